//! The UserInfo endpoint's rule (OpenID Connect Core §5.3): which claims a
//! token's scopes release. The bearer check is `oauth::bearer`.
use serde_json::{json, Map, Value};

use crate::registry::users::User;

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
            disabled: false,
            developer_requested: false,
        };
        assert_eq!(claims(&u, &["openid"]), json!({"sub": "u1"}));
        let c = claims(&u, &["openid", "email"]);
        assert_eq!(c["email"], "alice@example.com");
        assert!(c.get("preferred_username").is_none());
        assert_eq!(claims(&u, &["openid", "profile"])["preferred_username"], "alice");
    }
}
