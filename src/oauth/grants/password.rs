//! RFC 6749 §4.3, the resource-owner password grant. For migrating legacy
//! apps only: the app sees the user's password, which is exactly what OAuth
//! exists to avoid (RFC 9700 §2.4 says MUST NOT). Off unless a client is
//! registered with the `password` grant type; confidential clients only.
use super::user_tokens::{issue, Issue, Issued};
use super::Stores;
use crate::error::{Error, Result};
use crate::oauth::issuer::Issuer;
use crate::oauth::params::Params;
use crate::registry::clients::{Client, ClientType};
use crate::oauth::scopes;
use crate::oauth::tokens::TokenResponse;

pub async fn exchange(s: Stores<'_>, issuer: &Issuer, client: &Client, params: &Params, jkt: Option<&str>) -> Result<TokenResponse> {
    if client.client_type != ClientType::Confidential {
        return Err(Error::UnauthorizedClient("the password grant needs a confidential client".into()));
    }
    let username = params.require("username")?;
    let password = params.require("password")?;
    let granted = scopes::resolve(params.get("scope"), &client.scopes)?;
    let user = match crate::registry::users::authenticate(s.db, s.store, username, password, None).await? {
        crate::registry::users::Login::Ok(u) => u,
        crate::registry::users::Login::Invalid => return Err(Error::invalid_grant("invalid username or password")),
        crate::registry::users::Login::Disabled => return Err(Error::invalid_grant("the account is disabled")),
        crate::registry::users::Login::Throttled { retry_after_secs } => {
            return Err(Error::invalid_grant(format!("too many failed attempts; retry in {retry_after_secs} s")))
        }
    };
    // Using the password grant is the user's consent to this client.
    let consent = crate::registry::consents::consent(s.db, s.store, &user.user_id, &client.client_id, &granted, None).await?;
    let now = crate::db::now();
    let issued = issue(
        s,
        issuer,
        Issue {
            client,
            user_id: &user.user_id,
            scopes: &granted,
            family_scope: crate::oauth::scopes::join(&granted),
            grant_id: Some(&consent.grant_id),
            auth_time: now,
            nonce: None,
            rotate_from: None,
            preset: None,
            jkt,
            sid: None,
        },
    )
    .await?;
    match issued {
        Issued::Tokens(resp) => Ok(resp),
        _ => Err(Error::invalid_grant("tokens could not be issued")),
    }
}
