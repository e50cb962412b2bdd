//! The account service: users and API tokens. One implementation serves the server functions
//! and the REST API (through `app::services::AccountService`) and the CLI, which acts as the
//! administrator `cli`.

use crate::db::on_db;
use app::error::{AppError, ErrorCode};
use app::accounts::model::{
    Admin, ApiTokenSummary, NewApiToken, Password, Principal, Role, SessionInfo, TokenName, UserSummary, Username,
};
use app::services::AccountService;

use crate::auth::{password, secret};
use crate::db::{api_tokens, audit, sessions, users, Db};
use crate::support::time::{now, rfc3339};

#[derive(Clone)]
pub struct Accounts {
    db: Db,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "account service failure");
    AppError::Internal
}

impl Accounts {
    pub fn new(db: Db) -> Self {
        Accounts { db }
    }

    /// Sets a new password, signs the user out everywhere, revokes the API tokens they created
    /// (whoever knew the old password may have made one) and turns their second factor off (the
    /// way back for someone who lost the app and the recovery codes); returns how many tokens were
    /// revoked.
    pub async fn reset_password(
        &self,
        actor: &Admin,
        username: &Username,
        password: Password,
    ) -> Result<u64, AppError> {
        let user = users::by_username(&self.db, username.as_str())
            .await
            .map_err(internal)?
            .ok_or(AppError::NotFound)?;
        let hash = password::hash_async(password.expose().to_owned())
            .await
            .map_err(internal)?;
        users::set_password(&self.db, user.id, &hash).await.map_err(internal)?;
        sessions::delete_for_user(&self.db, user.id).await.map_err(internal)?;
        let revoked = api_tokens::revoke_created_by(&self.db, user.id, now()).await.map_err(internal)?;
        on_db!(self.db, cx => sqlx::query("UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE id = $1").bind(user.id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        on_db!(self.db, cx => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        audit::by(&self.db, actor, "user.reset_password", &user.username, &format!("password reset, sessions ended, {revoked} tokens revoked, second factor off")).await;
        Ok(revoked)
    }

    pub async fn revoke_tokens_named(&self, actor: &Admin, name: &str) -> Result<u64, AppError> {
        let n = api_tokens::revoke_by_name(&self.db, name, now())
            .await
            .map_err(internal)?;
        if n > 0 {
            audit::by(&self.db, actor, "token.revoke", name, &format!("{n} tokens revoked")).await;
        }
        Ok(n)
    }
}

#[async_trait::async_trait]
impl AccountService for Accounts {
    async fn list_users(&self) -> Result<Vec<UserSummary>, AppError> {
        let rows = users::list(&self.db).await.map_err(internal)?;
        Ok(rows.iter().map(|r| r.summary()).collect())
    }

    async fn create_user(
        &self,
        actor: &Admin,
        username: Username,
        password: Password,
        role: Role,
    ) -> Result<UserSummary, AppError> {
        let hash = password::hash_async(password.expose().to_owned())
            .await
            .map_err(internal)?;
        let row = users::insert(&self.db, username.as_str(), &hash, role, now())
            .await
            .map_err(|e| match e {
                users::InsertError::Taken => AppError::Invalid { code: ErrorCode::UsernameTaken },
                users::InsertError::Db(e) => internal(e),
            })?;
        audit::by(&self.db, actor, "user.create", &row.username, &format!("role {}", role.as_str())).await;
        Ok(row.summary())
    }

    async fn list_tokens(&self) -> Result<Vec<ApiTokenSummary>, AppError> {
        let rows = api_tokens::list_active(&self.db).await.map_err(internal)?;
        Ok(rows.iter().map(|r| r.summary()).collect())
    }

    async fn create_token(
        &self,
        actor: &Admin,
        name: TokenName,
        role: Role,
    ) -> Result<NewApiToken, AppError> {
        let created_by = (actor.principal().user_id > 0).then_some(actor.principal().user_id);
        let token = secret::new_api_token();
        let row = api_tokens::insert(
            &self.db,
            name.as_str(),
            &secret::digest(&token),
            &secret::token_display_prefix(&token),
            role,
            created_by,
            now(),
        )
        .await
        .map_err(internal)?;
        audit::by(&self.db, actor, "token.create", &row.name, &format!("#{} role {}", row.id, role.as_str())).await;
        Ok(NewApiToken { summary: row.summary(), token })
    }

    async fn revoke_token(&self, actor: &Admin, id: i64) -> Result<(), AppError> {
        let row = api_tokens::revoke(&self.db, id, now())
            .await
            .map_err(internal)?
            .ok_or(AppError::NotFound)?;
        audit::by(&self.db, actor, "token.revoke", &row.name, &format!("#{} revoked", row.id)).await;
        Ok(())
    }

    async fn sessions(&self, caller: &Principal, everyone: bool) -> Result<Vec<SessionInfo>, AppError> {
        if everyone && caller.role != Role::Admin {
            return Err(AppError::Forbidden);
        }
        let whose = (!everyone).then_some(caller.user_id);
        let rows = sessions::list(&self.db, whose, now()).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(id, _, username, address, device, created, seen, expires)| SessionInfo {
                current: caller.session.as_deref() == Some(id.as_str()),
                id,
                username,
                address,
                device,
                created_at: rfc3339(created),
                last_seen_at: seen.map(rfc3339),
                expires_at: rfc3339(expires),
            })
            .collect())
    }

    async fn end_session(&self, caller: &Principal, id: &str) -> Result<(), AppError> {
        let whose = (caller.role != Role::Admin).then_some(caller.user_id);
        let owner = sessions::delete_by_handle(&self.db, id, whose).await.map_err(internal)?.ok_or(AppError::NotFound)?;
        let detail = if owner == caller.user_id { "own session ended".to_owned() } else { format!("session of user #{owner} ended") };
        audit::by_principal(&self.db, caller, "session.end", id, &detail).await;
        Ok(())
    }
}
