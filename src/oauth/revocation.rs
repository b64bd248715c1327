//! Token revocation (RFC 7009) and introspection (RFC 7662) over the store.
use crate::app::Tessera;
use crate::clients::Client;
use crate::error::{Error, Result};
use crate::oauth::introspection::{self, Introspection};

/// Revoke a token presented by `client`. Unknown, malformed and expired
/// tokens answer success (RFC 7009 §2.2: the client cannot act on it
/// anyway); a genuine token of another client is refused.
pub async fn revoke(t: &Tessera, client: &Client, token: &str, hint: Option<&str>) -> Result<()> {
    match hint {
        None | Some("access_token") | Some("refresh_token") => {}
        Some(other) => return Err(Error::UnsupportedTokenType(format!("token_type_hint {other} is not supported"))),
    }
    let ring = t.keys.ring();
    if let Ok(claims) = introspection::verify(&ring, &t.cfg.issuer, token, 0, true) {
        if claims.client_id != client.client_id {
            return Err(Error::UnauthorizedClient("this token was not issued to you".into()));
        }
        if claims.exp > crate::db::now() {
            t.store.deny(&claims.jti, claims.exp).await?;
            log::info!("access token {} of client {} revoked", claims.jti, claims.client_id);
        }
    }
    Ok(())
}

/// Introspect a token for an authenticated caller.
pub async fn introspect(t: &Tessera, token: &str) -> Result<Introspection> {
    let ring = t.keys.ring();
    let claims = match introspection::verify(&ring, &t.cfg.issuer, token, 0, false) {
        Ok(c) => c,
        Err(why) => {
            log::debug!("introspection: token rejected ({why:?})");
            return Ok(Introspection::inactive());
        }
    };
    if t.store.is_denied(&claims.jti).await? {
        return Ok(Introspection::inactive());
    }
    match crate::clients::find(&t.db, &claims.client_id).await? {
        Some(c) if c.is_active() => Ok(Introspection::access(claims)),
        _ => Ok(Introspection::inactive()),
    }
}
