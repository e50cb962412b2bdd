//! The `oidc_identities` table: which account an identity provider's subject signs in to.

use super::users::UserRow;
use super::Db;

pub async fn user_for(db: &Db, issuer: &str, subject: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT users.* FROM oidc_identities JOIN users ON users.id = oidc_identities.user_id WHERE issuer = ? AND subject = ?")
        .bind(issuer)
        .bind(subject)
        .fetch_optional(db)
        .await
}

pub async fn link(db: &Db, issuer: &str, subject: &str, user_id: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO oidc_identities (issuer, subject, user_id) VALUES (?, ?, ?)").bind(issuer).bind(subject).bind(user_id).execute(db).await?;
    Ok(())
}
