//! Who may use Tessera's own admin API, beyond holding the `tessera:admin`
//! scope: the token must be meant for Tessera (`aud` is the issuer), and be
//! either a client_credentials token of a confidential client (a machine
//! acting for itself) or a user's token whose user is an admin now. A
//! browser or public app that somehow holds the scope gives an ordinary
//! user nothing.
use crate::db::Db;

use super::scopes;
use super::tokens::AccessClaims;
use crate::error::{Error, Result};
use crate::registry::clients::{Client, ClientType};
use crate::registry::users;

/// Whether the token is a client's own (client_credentials): its subject is
/// the client, and no user signed in for it.
pub fn is_machine_token(c: &AccessClaims) -> bool {
    c.auth_time.is_none() && c.sub == c.client_id
}

/// Check a bearer token that holds the admin scope against the rules above.
pub async fn may_administer(db: &Db, issuer: &str, claims: &AccessClaims, client: &Client) -> Result<()> {
    if claims.aud != issuer {
        return Err(Error::InvalidToken("this token is not meant for Tessera's admin API (aud)"));
    }
    if is_machine_token(claims) {
        return match client.client_type {
            ClientType::Confidential => Ok(()),
            ClientType::Public => Err(Error::InsufficientScope(scopes::ADMIN)),
        };
    }
    match users::get(db, &claims.sub).await? {
        Some(u) if u.is_admin() => Ok(()),
        _ => Err(Error::InsufficientScope(scopes::ADMIN)),
    }
}

/// The audience of a token with these scopes: the issuer for the admin
/// scope (which is requested alone), else `default`.
pub fn audience_of<'a>(scopes: &[String], issuer: &'a str, default: &'a str) -> &'a str {
    match scopes.iter().any(|s| s == scopes::ADMIN) {
        true => issuer,
        false => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, auth_time: Option<i64>) -> AccessClaims {
        AccessClaims {
            iss: "https://idp".into(),
            sub: sub.into(),
            aud: "https://idp".into(),
            exp: 0,
            iat: 0,
            jti: "j".into(),
            client_id: "c1".into(),
            scope: scopes::ADMIN.into(),
            auth_time,
            cnf: None,
        }
    }

    #[test]
    fn machine_tokens_are_the_clients_own() {
        assert!(is_machine_token(&claims("c1", None)));
        assert!(!is_machine_token(&claims("u1", Some(5))), "a user's token");
        assert!(!is_machine_token(&claims("c1", Some(5))), "a user signed in");
    }

    #[test]
    fn admin_tokens_are_for_the_issuer() {
        let admin = vec![scopes::ADMIN.to_string()];
        assert_eq!(audience_of(&admin, "https://idp", "https://api"), "https://idp");
        assert_eq!(audience_of(&["read:data".to_string()], "https://idp", "https://api"), "https://api");
    }
}
