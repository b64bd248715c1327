//! RFC 6749 §4.3, the resource-owner password grant. For migrating legacy
//! apps only: the app sees the user's password, which is exactly what OAuth
//! exists to avoid (RFC 9700 §2.4 says MUST NOT). Off unless a client is
//! registered with the `password` grant type; confidential clients only.
use crate::app::Tessera;
use crate::clients::{Client, ClientType};
use crate::error::{Error, Result};
use crate::oauth::grants::{issue_for_user, Issue, Issued};
use crate::oauth::params::Params;
use crate::oauth::scopes;
use crate::oauth::tokens::TokenResponse;

pub async fn exchange(t: &Tessera, client: &Client, params: &Params) -> Result<TokenResponse> {
    if client.client_type != ClientType::Confidential {
        return Err(Error::UnauthorizedClient("the password grant needs a confidential client".into()));
    }
    let username = params.require("username")?;
    let password = params.require("password")?;
    let granted = scopes::resolve(params.get("scope"), &client.scopes)?;
    let user = match crate::users::authenticate(&t.db, t.store.as_ref(), username, password, None).await? {
        crate::users::Login::Ok(u) => u,
        crate::users::Login::Invalid => return Err(Error::invalid_grant("invalid username or password")),
        crate::users::Login::Throttled { retry_after_secs } => {
            return Err(Error::invalid_grant(format!("too many failed attempts; retry in {retry_after_secs} s")))
        }
    };
    // Using the password grant is the user's consent to this client.
    crate::grants::consent(&t.db, &user.user_id, &client.client_id, &granted, None).await?;
    let now = crate::db::now();
    let issued = issue_for_user(
        t,
        Issue {
            client,
            user_id: &user.user_id,
            scopes: &granted,
            family_scope: granted.join(" "),
            auth_time: now,
            nonce: None,
            rotate_from: None,
            preset: None,
        },
    )
    .await?;
    match issued {
        Issued::Tokens(resp) => Ok(resp),
        _ => Err(Error::invalid_grant("tokens could not be issued")),
    }
}
