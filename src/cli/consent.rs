//! `tessera grant …`: users' consents to apps, and revoking one.
use clap::Subcommand;

use super::{Out, Setup, ACTOR};
use crate::error::{Error, Result};
use crate::http::pages::when;
use crate::registry::{consents, users};

#[derive(Subcommand, Debug)]
pub enum GrantCmd {
    /// The apps a user has granted access to
    List {
        /// user id or username
        #[arg(long)]
        user: String,
    },
    /// Revoke one user's grant to one client: consent, refresh tokens and live access tokens
    Revoke {
        /// user id or username
        #[arg(long)]
        user: String,
        #[arg(long)]
        client: String,
    },
}

/// A user named by username or by id.
pub(super) async fn resolve(db: &crate::db::Db, user: &str) -> Result<String> {
    if let Some(u) = users::find_by_username(db, user).await? {
        return Ok(u.user_id);
    }
    users::get(db, user).await?.map(|u| u.user_id).ok_or_else(|| Error::NotFound(format!("user {user}")))
}

pub async fn run(setup: Setup, cmd: GrantCmd, out: Out) -> Result<()> {
    let (db, store) = setup.db_and_store().await?;
    match cmd {
        GrantCmd::List { user } => {
            let v = consents::list_for_user(&db, &resolve(&db, &user).await?).await?;
            out.print(&v, |v| {
                v.iter()
                    .map(|a| format!("{}  {}  scopes={}  last_used={}", a.grant.client_id, a.client_name, a.grant.scopes.join(" "), when(a.grant.last_used_at)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        GrantCmd::Revoke { user, client } => {
            let uid = resolve(&db, &user).await?;
            let n = consents::revoke(&db, store.as_ref(), &uid, &client, ACTOR, None).await?;
            let v = serde_json::json!({"user_id": uid, "client_id": client, "tokens_revoked": n});
            out.print(&v, |_| format!("revoked; {n} refresh token(s) and their access tokens"))
        }
    }
}
