//! Token contents: RFC 9068 access-token claims, the token response, and
//! the audience rule (RFC 8707). Random values and digests: `crate::crypto`.
use serde::{Deserialize, Serialize};

/// RFC 9068 §2.2 claims of a JWT access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user id, or the client id for client_credentials (RFC 9068 §2.2).
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The key the token is bound to (DPoP, RFC 9449 §6.1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Cnf>,
}

/// Confirmation (RFC 7800): the thumbprint of the key a DPoP-bound token needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cnf {
    pub jkt: String,
}

impl AccessClaims {
    /// `DPoP` for a key-bound token, else `Bearer` (the response's `token_type`).
    pub fn token_type(&self) -> &'static str {
        if self.cnf.is_some() { "DPoP" } else { "Bearer" }
    }
}

/// The successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Pick the audience: the requested `resource` or `audience` if it is on the
/// allow-list, else the default (RFC 8707 `invalid_target` otherwise).
pub fn select_audience(
    resource: Option<&str>,
    audience: Option<&str>,
    allowed: &[String],
    default: &str,
) -> crate::error::Result<String> {
    let wanted = match (resource, audience) {
        (Some(r), Some(a)) if r != a => {
            return Err(crate::error::Error::invalid_request("resource and audience disagree; send one"))
        }
        (Some(r), _) => r,
        (None, Some(a)) => a,
        (None, None) => return Ok(default.to_string()),
    };
    if allowed.iter().any(|a| a == wanted) {
        Ok(wanted.to_string())
    } else {
        Err(crate::error::Error::InvalidTarget(format!("{wanted} is not an audience this server issues tokens for")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_rules() {
        let allowed = vec!["https://a".to_string(), "https://b".to_string()];
        assert_eq!(select_audience(None, None, &allowed, "https://a").unwrap(), "https://a");
        assert_eq!(select_audience(Some("https://b"), None, &allowed, "https://a").unwrap(), "https://b");
        assert_eq!(select_audience(None, Some("https://b"), &allowed, "https://a").unwrap(), "https://b");
        assert!(matches!(
            select_audience(Some("https://evil"), None, &allowed, "https://a"),
            Err(crate::error::Error::InvalidTarget(_))
        ));
        assert!(select_audience(Some("https://a"), Some("https://b"), &allowed, "https://a").is_err());
    }
}
