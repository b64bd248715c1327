//! Token revocation (RFC 7009).
use super::introspection;
use super::issuer::Issuer;
use crate::error::{Error, Result};
use crate::registry::clients::Client;
use crate::store::{RefreshState, TokenStore};

/// Revoke a token presented by `client`. Unknown, malformed and expired
/// tokens answer success (RFC 7009 §2.2: the client cannot act on it
/// anyway); a genuine token of another client is refused.
pub async fn revoke(store: &dyn TokenStore, issuer: &Issuer, client: &Client, token: &str, hint: Option<&str>) -> Result<()> {
    match hint {
        None | Some("access_token") | Some("refresh_token") => {}
        Some(other) => return Err(Error::UnsupportedTokenType(format!("token_type_hint {other} is not supported"))),
    }
    if let Ok(claims) = introspection::verify(&issuer.ring(), issuer.issuer(), token, 0, true) {
        if claims.client_id != client.client_id {
            return Err(Error::UnauthorizedClient("this token was not issued to you".into()));
        }
        if claims.exp > crate::db::now() {
            store.deny(&claims.jti, claims.exp).await?;
            log::info!("access token {} of client {} revoked", claims.jti, claims.client_id);
        }
        return Ok(());
    }
    // Not one of our JWTs: perhaps a refresh token. Revoking it revokes its
    // family and the access tokens issued from it (RFC 7009 §2.1).
    let now = crate::db::now();
    match store.get_refresh(&crate::store::refresh_handle(token), now).await? {
        RefreshState::Active(r) | RefreshState::Used(r) => {
            if r.client_id != client.client_id {
                return Err(Error::UnauthorizedClient("this token was not issued to you".into()));
            }
            store.revoke_family(&r.family_id, now).await?;
            log::info!("refresh family {} of client {} revoked", r.family_id, r.client_id);
        }
        RefreshState::Invalid => {}
    }
    Ok(())
}
