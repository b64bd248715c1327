//! Bearer tokens presented to Tessera's own protected resources (RFC 6750):
//! `/userinfo` and the admin API. The signature, `typ`, `iss` and expiry are
//! checked in memory; then one gate round trip asks the denylist and the
//! clients epoch and, when the resource is metered, counts the request
//! against the token's client (given back when a later check fails, so a
//! revoked token does not spend its client's budget).
use std::sync::Arc;

use crate::db::Db;

use super::gate::{Ask, Gate};
use super::issuer::Issuer;
use super::{admin, introspection, scopes};
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

/// Tessera's own protected resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `/userinfo` (OpenID Connect Core §5.3).
    UserInfo,
    /// `/admin/api/*`: also `oauth::admin`'s rules.
    AdminApi,
}

impl Resource {
    /// The scope a token needs here.
    pub fn scope(self) -> &'static str {
        match self {
            Resource::UserInfo => "openid",
            Resource::AdminApi => scopes::ADMIN,
        }
    }

    /// The rate limit a request here counts against (the token's client's).
    pub fn endpoint(self) -> Endpoint {
        match self {
            Resource::UserInfo => Endpoint::Userinfo,
            Resource::AdminApi => Endpoint::Admin,
        }
    }
}

/// Whether a token's space-separated `scope` holds `needed`.
pub fn has_scope(scope: &str, needed: &str) -> bool {
    super::scopes::words(scope).any(|s| s == needed)
}

/// Check `token` for `resource`, counting the request against its client.
/// What a DPoP-bound token presented as `Bearer` hears (RFC 9449 §7.2).
pub const BOUND_AS_BEARER: &str = "this token is DPoP-bound: present it with Authorization: DPoP and a proof";

/// Whether the way a token was presented fits it (RFC 9449 §7): a
/// DPoP-bound token only with a proof by its key (`jkt`: the proof's key,
/// `None` when presented as `Bearer`), a bearer token only as `Bearer`.
pub fn binding(claims: &AccessClaims, jkt: Option<&str>) -> Result<()> {
    match (claims.cnf.as_ref(), jkt) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(Error::InvalidToken(BOUND_AS_BEARER)),
        (Some(c), Some(k)) if c.jkt == k => Ok(()),
        (Some(_), Some(_)) => Err(Error::InvalidToken("the DPoP proof is signed by another key than the token is bound to")),
        (None, Some(_)) => Err(Error::InvalidToken("this token is not DPoP-bound: present it as Bearer")),
    }
}

/// Check a token presented at `resource`; `jkt`: the key of the request's
/// verified DPoP proof when it was presented with `Authorization: DPoP`.
pub async fn check(gate: &Gate, issuer: &Issuer, db: &Db, token: &str, jkt: Option<&str>, resource: Resource) -> Result<Bearer> {
    let scope = resource.scope();
    let claims = introspection::verify(&issuer.ring(), issuer.issuer(), token, 0, false)
        .map_err(|_| Error::InvalidToken("the access token is invalid or expired"))?;
    let counted = gate.count(&claims.client_id, Some(resource.endpoint()), Ask { jti: Some(&claims.jti), ..Default::default() }).await?;
    let checked = async {
        if counted.answer.denied {
            return Err(Error::InvalidToken("the access token was revoked"));
        }
        binding(&claims, jkt)?;
        let client = match gate.client_at(&claims.client_id, counted.answer.epoch.clone()).await? {
            Some(c) if c.is_active() => c,
            _ => return Err(Error::InvalidToken("the client of this token is suspended")),
        };
        if !has_scope(&claims.scope, scope) {
            return Err(Error::InsufficientScope(scope));
        }
        if resource == Resource::AdminApi {
            admin::may_administer(db, issuer.issuer(), &claims, &client).await?;
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
