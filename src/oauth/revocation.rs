//! Token revocation (RFC 7009) and introspection (RFC 7662) over the store.
use crate::app::Tessera;
use crate::clients::Client;
use crate::error::{Error, Result};
use crate::oauth::introspection::{self, Introspection};
use crate::oauth::tokens;
use crate::store::RefreshState;

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
        return Ok(());
    }
    // Not one of our JWTs: perhaps a refresh token. Revoking it revokes its
    // family and the access tokens issued from it (RFC 7009 §2.1).
    let now = crate::db::now();
    match t.store.get_refresh(&tokens::digest(token), now).await? {
        RefreshState::Active(r) | RefreshState::Used(r) => {
            if r.client_id != client.client_id {
                return Err(Error::UnauthorizedClient("this token was not issued to you".into()));
            }
            t.store.revoke_family(&r.family_id, now).await?;
            log::info!("refresh family {} of client {} revoked", r.family_id, r.client_id);
        }
        RefreshState::Invalid => {}
    }
    Ok(())
}

/// Introspect with the signature already checked and the denylist already
/// asked (the introspection endpoint's one store round trip).
pub async fn introspect_verified(
    t: &Tessera,
    token: &str,
    verified: Result<crate::oauth::tokens::AccessClaims, introspection::Rejected>,
    denied: bool,
    epoch: Option<String>,
) -> Result<Introspection> {
    let claims = match verified {
        Ok(c) => c,
        Err(introspection::Rejected::Malformed) => return introspect_refresh(t, token, epoch).await,
        Err(_) => return Ok(Introspection::inactive()),
    };
    if denied {
        return Ok(Introspection::inactive());
    }
    match t.client_at(&claims.client_id, epoch).await? {
        Some(c) if c.is_active() => Ok(Introspection::access(claims)),
        _ => Ok(Introspection::inactive()),
    }
}

/// Introspect an opaque refresh token: active while it is unused, unexpired,
/// its family alive and its client active.
async fn introspect_refresh(t: &Tessera, token: &str, epoch: Option<String>) -> Result<Introspection> {
    if token.len() > 256 {
        return Ok(Introspection::inactive());
    }
    let RefreshState::Active(r) = t.store.get_refresh(&tokens::digest(token), crate::db::now()).await? else {
        return Ok(Introspection::inactive());
    };
    if !t.client_at(&r.client_id, epoch).await?.is_some_and(|c| c.is_active()) {
        return Ok(Introspection::inactive());
    }
    let family: crate::oauth::grants::FamilyData = match serde_json::from_str(&r.data) {
        Ok(f) => f,
        Err(_) => return Ok(Introspection::inactive()),
    };
    Ok(Introspection::refresh(r, family.scope, &t.cfg.issuer))
}
