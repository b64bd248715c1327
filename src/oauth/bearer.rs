//! Bearer tokens presented to Tessera's own protected resources (RFC 6750):
//! `/userinfo` and the admin API. The signature, `typ`, `iss` and expiry are
//! checked in memory; then one gate round trip asks the denylist and the
//! clients epoch and, when the resource is metered, counts the request
//! against the token's client (given back when a later check fails, so a
//! revoked token does not spend its client's budget).
use std::sync::Arc;

use super::gate::{Ask, Gate};
use super::introspection;
use super::issuer::Issuer;
use crate::error::{Error, Result};
use crate::rate_limit::{Decision, Endpoint};
use crate::registry::clients::Client;
use crate::oauth::tokens::AccessClaims;

/// A bearer token that passed every check, with the rate decision it was counted under.
#[derive(Debug)]
pub struct Bearer {
    pub claims: AccessClaims,
    pub client: Arc<Client>,
    pub rate: Option<Decision>,
}

/// Whether a token's space-separated `scope` holds `needed`.
pub fn has_scope(scope: &str, needed: &str) -> bool {
    super::scopes::words(scope).any(|s| s == needed)
}

/// Check `token` for a resource that needs `scope`; `endpoint`: the rate
/// limit it counts against, if any.
pub async fn check(gate: &Gate, issuer: &Issuer, token: &str, scope: &'static str, endpoint: Option<Endpoint>) -> Result<Bearer> {
    let claims = introspection::verify(&issuer.ring(), issuer.issuer(), token, 0, false)
        .map_err(|_| Error::InvalidToken("the access token is invalid or expired"))?;
    let counted = gate.count(&claims.client_id, endpoint, Ask { jti: Some(&claims.jti), refresh: None }).await?;
    let checked = async {
        if counted.answer.denied {
            return Err(Error::InvalidToken("the access token was revoked"));
        }
        let client = match gate.client_at(&claims.client_id, counted.answer.epoch.clone()).await? {
            Some(c) if c.is_active() => c,
            _ => return Err(Error::InvalidToken("the client of this token is suspended")),
        };
        if !has_scope(&claims.scope, scope) {
            return Err(Error::InsufficientScope(scope));
        }
        Ok(client)
    }
    .await;
    let passed = gate.settle(counted, checked).await?;
    Ok(Bearer { claims, client: passed.client, rate: passed.rate })
}

#[cfg(test)]
mod tests {
    #[test]
    fn scope_is_matched_whole() {
        assert!(super::has_scope("openid tessera:admin", "tessera:admin"));
        assert!(!super::has_scope("openid tessera:administrator", "tessera:admin"));
        assert!(!super::has_scope("", "openid"));
    }
}
