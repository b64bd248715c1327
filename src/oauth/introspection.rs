//! Introspection (RFC 7662), and verifying our own access tokens (for
//! `/introspect`, `/revoke`, `/userinfo` and the admin API): any doubt means
//! inactive, never an error.
use jsonwebtoken::Validation;

use super::gate::Gate;
use super::grants::FamilyData;
use super::tokens::AccessClaims;
use crate::error::Result;
use crate::keys::KeyRing;
use crate::registry::clients::Client;
use crate::store::{RefreshState, TokenStore};

/// Why a token was not accepted (for logs and tests; the wire only says `active:false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    Malformed,
    WrongType,
    UnknownKey,
    BadSignature,
    Expired,
    WrongIssuer,
}

/// Is the `typ` header the RFC 9068 one?
fn is_at_jwt(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"))
}

/// Check signature (with the algorithm of a key of ours that is still published),
/// `typ`, `iss` and `exp`. `leeway` is in seconds. `allow_expired` is for
/// revocation, where an expired but genuine token is simply a no-op.
pub fn verify(ring: &KeyRing, issuer: &str, token: &str, leeway: u64, allow_expired: bool) -> Result<AccessClaims, Rejected> {
    if token.len() > 8192 {
        return Err(Rejected::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejected::Malformed)?;
    if !is_at_jwt(header.typ.as_deref()) {
        return Err(Rejected::WrongType);
    }
    let kid = header.kid.ok_or(Rejected::UnknownKey)?;
    let key = ring.verify.get(&kid).ok_or(Rejected::UnknownKey)?;
    // The algorithm is the key's, never the token's choice (no `none`, no
    // HS256 with a public key as the secret, no RSA key used as EC).
    if header.alg != key.alg.jwt() {
        return Err(Rejected::WrongType);
    }
    let mut v = Validation::new(key.alg.jwt());
    v.leeway = leeway;
    v.validate_aud = false;
    v.validate_exp = !allow_expired;
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    v.set_issuer(&[issuer]);
    match jsonwebtoken::decode::<AccessClaims>(token, &key.key, &v) {
        Ok(d) => Ok(d.claims),
        Err(e) => Err(match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => Rejected::Expired,
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => Rejected::WrongIssuer,
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Rejected::BadSignature,
            _ => Rejected::Malformed,
        }),
    }
}

/// RFC 7662 §2.2 response.
#[derive(Debug, serde::Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ActiveClaims>,
}

#[derive(Debug, serde::Serialize)]
pub struct ActiveClaims {
    pub scope: String,
    pub client_id: String,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    pub token_type: &'static str,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    pub iss: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A DPoP-bound token's key (RFC 9449 §6.2): the resource server checks the proof against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::oauth::tokens::Cnf>,
}

impl Introspection {
    pub fn inactive() -> Self {
        Introspection { active: false, claims: None }
    }
    pub fn access(c: AccessClaims) -> Self {
        let token_type = c.token_type();
        Introspection {
            active: true,
            claims: Some(ActiveClaims {
                scope: c.scope,
                client_id: c.client_id,
                token_type,
                exp: c.exp,
                iat: Some(c.iat),
                sub: c.sub,
                aud: Some(c.aud),
                iss: c.iss,
                jti: Some(c.jti),
                username: None,
                cnf: c.cnf,
            }),
        }
    }
}

impl Introspection {
    pub fn refresh(r: crate::store::RefreshRecord, scope: String, issuer: &str) -> Self {
        Introspection {
            active: true,
            claims: Some(ActiveClaims {
                scope,
                client_id: r.client_id,
                token_type: "refresh_token",
                exp: r.expires_at,
                iat: None,
                sub: r.user_id,
                aud: None,
                iss: issuer.to_string(),
                jti: None,
                username: None,
                cnf: None,
            }),
        }
    }
}

/// Whether `caller` may learn about a token issued to `token_client`
/// (RFC 7662 §4): its own tokens, or any with the introspection permission
/// an admin gives resource servers. Anything else is `active: false`, the
/// same answer as for a token that does not exist.
pub fn may_introspect(caller: &Client, token_client: &str) -> bool {
    caller.can_introspect || caller.client_id == token_client
}

/// Introspect for `caller`, with the signature already checked and the
/// denylist already asked (the introspection endpoint's one store round
/// trip); `epoch`: the clients epoch of that round.
#[allow(clippy::too_many_arguments)]
pub async fn introspect_verified(
    gate: &Gate,
    store: &dyn TokenStore,
    issuer: &str,
    caller: &Client,
    token: &str,
    verified: std::result::Result<AccessClaims, Rejected>,
    denied: bool,
    epoch: Option<String>,
) -> Result<Introspection> {
    let claims = match verified {
        Ok(c) => c,
        Err(Rejected::Malformed) => return introspect_refresh(gate, store, issuer, caller, token, epoch).await,
        Err(_) => return Ok(Introspection::inactive()),
    };
    if denied || !may_introspect(caller, &claims.client_id) {
        return Ok(Introspection::inactive());
    }
    match gate.client_at(&claims.client_id, epoch).await? {
        Some(c) if c.is_active() => Ok(Introspection::access(claims)),
        _ => Ok(Introspection::inactive()),
    }
}

/// Introspect an opaque refresh token: active while it is unused, unexpired,
/// its family alive and its client active.
async fn introspect_refresh(gate: &Gate, store: &dyn TokenStore, issuer: &str, caller: &Client, token: &str, epoch: Option<String>) -> Result<Introspection> {
    if token.len() > 256 {
        return Ok(Introspection::inactive());
    }
    let RefreshState::Active(r) = store.get_refresh(&crate::store::refresh_handle(token), crate::db::now()).await? else {
        return Ok(Introspection::inactive());
    };
    if !may_introspect(caller, &r.client_id) {
        return Ok(Introspection::inactive());
    }
    if !gate.client_at(&r.client_id, epoch).await?.is_some_and(|c| c.is_active()) {
        return Ok(Introspection::inactive());
    }
    let family: FamilyData = match serde_json::from_str(&r.data) {
        Ok(f) => f,
        Err(_) => return Ok(Introspection::inactive()),
    };
    Ok(Introspection::refresh(r, family.scope, issuer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::clients::{test_client, ClientType};

    #[test]
    fn a_client_sees_its_own_tokens_a_resource_server_any() {
        let mut c = test_client("c1", ClientType::Confidential, None, "active");
        assert!(may_introspect(&c, "c1"));
        assert!(!may_introspect(&c, "c2"));
        c.can_introspect = true;
        assert!(may_introspect(&c, "c2"));
    }
}
