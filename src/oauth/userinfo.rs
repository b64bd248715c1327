//! The UserInfo endpoint's rules (OpenID Connect Core §5.3): which claims a
//! token's scopes release, and how a bearer token is checked (RFC 6750).
use serde_json::{json, Map, Value};

use crate::app::Tessera;
use crate::oauth::introspection;
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

/// Check a bearer token for a protected resource of this server.
pub async fn check_bearer(
    t: &Tessera,
    token: &str,
    needed_scope: &'static str,
) -> Result<(AccessClaims, crate::clients::Client), BearerError> {
    let c = introspection::verify(&t.keys.ring(), &t.cfg.issuer, token, 0, false)
        .map_err(|_| BearerError::InvalidToken("the access token is invalid or expired"))?;
    match t.store.is_denied(&c.jti).await {
        Ok(false) => {}
        Ok(true) => return Err(BearerError::InvalidToken("the access token was revoked")),
        Err(_) => return Err(BearerError::Unavailable),
    }
    let client = match t.client(&c.client_id).await {
        Ok(Some(cl)) if cl.is_active() => cl,
        Ok(_) => return Err(BearerError::InvalidToken("the client of this token is suspended")),
        Err(_) => return Err(BearerError::Unavailable),
    };
    if !c.scope.split(' ').any(|s| s == needed_scope) {
        return Err(BearerError::InsufficientScope(needed_scope));
    }
    Ok((c, client))
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
