//! RFC 8628 §3.4–3.5: a device polls for the tokens of a user's approval.
//!
//! The store decides each poll atomically (`TokenStore::poll_device`):
//! pending (recorded), too fast, denied, expired, or approved — handed out
//! once, so two racing polls cannot both get tokens.
use super::user_tokens::{issue, Issue, Issued};
use super::Stores;
use crate::error::{Error, Result};
use crate::oauth::device::{Approval, INTERVAL_SECS};
use crate::oauth::issuer::Issuer;
use crate::oauth::params::Params;
use crate::oauth::tokens::TokenResponse;
use crate::registry::clients::Client;
use crate::store::DevicePoll;

pub async fn exchange(s: Stores<'_>, issuer: &Issuer, client: &Client, params: &Params, epochs: Option<&crate::registry::consents::Epochs>, jkt: Option<&str>) -> Result<TokenResponse> {
    let code = params.require("device_code")?;
    let now = crate::db::now();
    let approval = match s.store.poll_device(&crate::crypto::digest(code), &client.client_id, now, INTERVAL_SECS).await? {
        DevicePoll::Approved(a) => a,
        DevicePoll::Pending => return Err(Error::AuthorizationPending),
        DevicePoll::SlowDown => return Err(Error::SlowDown),
        DevicePoll::Denied => return Err(Error::DeviceDenied),
        DevicePoll::Expired => return Err(Error::ExpiredToken),
        DevicePoll::Invalid => return Err(Error::invalid_grant("the device_code is invalid, another client's, or was already exchanged")),
    };
    let a: Approval = serde_json::from_str(&approval).map_err(|_| Error::invalid_grant("the device_code is invalid"))?;
    // The user may have revoked the app between approving and this poll.
    match s.grants.find(s.db, &a.user_id, &client.client_id, epochs).await? {
        Some(g) if g.grant_id == a.grant_id => {}
        _ => return Err(Error::invalid_grant("the grant was revoked")),
    }
    let issued = issue(
        s,
        issuer,
        Issue {
            client,
            user_id: &a.user_id,
            scopes: &a.scopes,
            family_scope: crate::oauth::scopes::join(&a.scopes),
            grant_id: Some(&a.grant_id),
            auth_time: a.auth_time,
            nonce: None,
            rotate_from: None,
            preset: None,
            jkt,
            sid: None,
        },
    )
    .await?;
    match issued {
        Issued::Tokens(t) => Ok(t),
        _ => Err(Error::invalid_grant("the device_code is invalid")),
    }
}
