//! The UserInfo endpoint's rules (OpenID Connect Core §5.3): which claims a
//! token's scopes release, and how a bearer token is checked (RFC 6750).
use serde_json::{json, Map, Value};

use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::introspection;
use crate::oauth::rate_limit::{Decision, Endpoint};
use crate::oauth::tokens::AccessClaims;
use crate::users::User;

/// RFC 6750 §3.1 errors.
#[derive(Debug, PartialEq, Eq)]
pub enum BearerError {
    /// 400 `invalid_request`
    InvalidRequest(&'static str),
    /// 401 `invalid_token`
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`
    InsufficientScope(&'static str),
    /// 503: the store could not be asked
    Unavailable,
    /// 429: the token's client is over its rate limit
    RateLimited(Decision),
}

/// The claims `scopes` release about `user` (pure).
pub fn claims(user: &User, scopes: &[&str]) -> Value {
    let mut m = Map::new();
    m.insert("sub".into(), json!(user.user_id));
    if scopes.contains(&"profile") {
        m.insert("preferred_username".into(), json!(user.username));
        m.insert("name".into(), json!(user.username));
    }
    if scopes.contains(&"email") {
        m.insert("email".into(), json!(user.email));
        m.insert("email_verified".into(), json!(user.email_verified));
    }
    Value::Object(m)
}

/// A bearer token that passed every check, with the rate decision it was counted under.
#[derive(Debug)]
pub struct Bearer {
    pub claims: AccessClaims,
    pub client: std::sync::Arc<crate::clients::Client>,
    pub rate: Option<Decision>,
}

/// Check a bearer token for a protected resource of this server. The
/// signature and expiry are checked in memory; then one store round trip
/// answers the denylist, the clients epoch and, when `endpoint` is rate
/// limited, counts the request against the token's client (refunded when a
/// later check fails, so a revoked token does not spend its client's budget).
pub async fn check_bearer(
    t: &Tessera,
    token: &str,
    needed_scope: &'static str,
    endpoint: Option<Endpoint>,
) -> Result<Bearer, BearerError> {
    let c = introspection::verify(&t.keys.ring(), &t.cfg.issuer, token, 0, false)
        .map_err(|_| BearerError::InvalidToken("the access token is invalid or expired"))?;
    let (answer, key) = match endpoint {
        Some(e) => t.round(&c.client_id, e, Some(&c.jti), None).await.map(|(a, k)| (a, Some(k))),
        None => t.denylist_round(&c.jti).await.map(|a| (a, None)),
    }
    .map_err(|_| BearerError::Unavailable)?;
    let checked = async {
        if answer.denied {
            return Err(BearerError::InvalidToken("the access token was revoked"));
        }
        let client = match t.client_at(&c.client_id, answer.epoch.clone()).await {
            Ok(Some(cl)) if cl.is_active() => cl,
            Ok(_) => return Err(BearerError::InvalidToken("the client of this token is suspended")),
            Err(_) => return Err(BearerError::Unavailable),
        };
        if !c.scope.split(' ').any(|s| s == needed_scope) {
            return Err(BearerError::InsufficientScope(needed_scope));
        }
        Ok(client)
    };
    let client = match checked.await {
        Ok(cl) => cl,
        Err(e) => {
            if let Some(k) = &key {
                t.refund(k).await;
            }
            return Err(e);
        }
    };
    let rate = match &key {
        Some(k) => t.rate_decide(&client, &answer, k).await.map_err(|e| match e {
            Error::RateLimited(d) => BearerError::RateLimited(d),
            _ => BearerError::Unavailable,
        })?,
        None => None,
    };
    Ok(Bearer { claims: c, client, rate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_gate_claims() {
        let u = User {
            user_id: "u1".into(),
            username: "alice".into(),
            email: "alice@example.com".into(),
            email_verified: false,
            role: "user".into(),
            created_at: 0,
        };
        assert_eq!(claims(&u, &["openid"]), json!({"sub": "u1"}));
        let c = claims(&u, &["openid", "email"]);
        assert_eq!(c["email"], "alice@example.com");
        assert!(c.get("preferred_username").is_none());
        assert_eq!(claims(&u, &["openid", "profile"])["preferred_username"], "alice");
    }
}
