//! The `oidc_identities` table: which account an identity provider's subject signs in to.

use crate::db::on_db;
use super::users::UserRow;
use super::Db;

pub async fn user_for(db: &Db, issuer: &str, subject: &str) -> sqlx::Result<Option<UserRow>> {
    on_db!(db, cx => sqlx::query_as("SELECT users.* FROM oidc_identities JOIN users ON users.id = oidc_identities.user_id WHERE issuer = $1 AND subject = $2")
        .bind(issuer)
        .bind(subject)
        .fetch_optional(cx).await)
}

pub async fn link(db: &Db, issuer: &str, subject: &str, user_id: i64) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("INSERT INTO oidc_identities (issuer, subject, user_id) VALUES ($1, $2, $3)").bind(issuer).bind(subject).bind(user_id).execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(())
}
