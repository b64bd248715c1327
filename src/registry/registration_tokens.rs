//! Initial access tokens (RFC 7591 §3): what an admin hands to a developer
//! or a deployment pipeline so that it may register clients at `/register`
//! under `TESSERA_REGISTRATION=token`. Shown once, stored as SHA-256, good
//! for a number of registrations until they expire.
use entity::registration_tokens;
use crate::db::Db;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::db::now;
use crate::error::{Error, Result};
use crate::registry::audit::{self, Event};

/// The longest an initial access token may live (30 days).
pub const MAX_TTL_SECS: i64 = 30 * 86_400;

/// A new token, the one time it is visible.
#[derive(Debug, Serialize)]
pub struct Issued {
    pub token: String,
    pub expires_at: i64,
    pub uses: i64,
}

/// Make a token good for `uses` registrations during `ttl_secs`.
pub async fn create(db: &Db, ttl_secs: i64, uses: i64, actor: Option<&str>) -> Result<Issued> {
    if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
        return Err(Error::validation(format!("the lifetime must be between 1 second and {} days", MAX_TTL_SECS / 86_400)));
    }
    if !(1..=10_000).contains(&uses) {
        return Err(Error::validation("uses must be between 1 and 10000"));
    }
    let token = format!("tri_{}", crate::crypto::random_token(32));
    let t = now();
    let am = registration_tokens::ActiveModel {
        token_hash: Set(crate::crypto::digest(&token)),
        uses_left: Set(uses),
        expires_at: Set(t + ttl_secs),
        created_by: Set(actor.map(str::to_string)),
        created_at: Set(t),
    };
    registration_tokens::Entity::insert(am).exec_without_returning(db).await?;
    audit::record(db, Event { event: "registration_token.created", actor, detail: Some(serde_json::json!({"uses": uses, "ttl_secs": ttl_secs})), ..Default::default() })
        .await;
    Ok(Issued { token, expires_at: t + ttl_secs, uses })
}

/// Whether `token` is live and has a use left (read only).
pub async fn usable(db: &Db, token: &str) -> Result<bool> {
    let row = registration_tokens::Entity::find_by_id(crate::crypto::digest(token)).one(db).await?;
    Ok(row.is_some_and(|r| r.uses_left > 0 && r.expires_at > now()))
}

/// Spend one use of `token`: one conditional UPDATE, so concurrent
/// registrations never spend more uses than it has. `false`: none left.
pub async fn spend(db: &Db, token: &str) -> Result<bool> {
    let n = registration_tokens::Entity::update_many()
        .col_expr(registration_tokens::Column::UsesLeft, Expr::col(registration_tokens::Column::UsesLeft).sub(1))
        .filter(registration_tokens::Column::TokenHash.eq(crate::crypto::digest(token)))
        .filter(registration_tokens::Column::UsesLeft.gt(0))
        .filter(registration_tokens::Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// Drop tokens that expired or were used up.
pub async fn purge(db: &Db) -> Result<u64> {
    let n = registration_tokens::Entity::delete_many()
        .filter(registration_tokens::Column::ExpiresAt.lt(now()).or(registration_tokens::Column::UsesLeft.lte(0)))
        .exec(db)
        .await?
        .rows_affected;
    Ok(n)
}
