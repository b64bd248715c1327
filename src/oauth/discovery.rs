//! The metadata document (OpenID Connect Discovery 1.0, RFC 8414): exactly
//! what this server implements and nothing more. Built from the
//! configuration and the scope catalogue, kept in memory and rebuilt on the
//! background tick (the catalogue is its only part that changes).
use std::sync::{Arc, RwLock};

use crate::db::Db;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::Result;
use crate::registry::catalogue;
use crate::registry::grant_types::GrantType;

/// The metadata document (pure: a function of the configuration and the scopes).
pub fn metadata(cfg: &Config, scopes: &[String]) -> Value {
    let base = cfg.base();
    let mut m = json!({
        "issuer": cfg.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{base}/revoke"),
        "introspection_endpoint": format!("{base}/introspect"),
        "pushed_authorization_request_endpoint": format!("{base}/par"),
        "require_pushed_authorization_requests": cfg.require_par,
        "device_authorization_endpoint": format!("{base}/device_authorization"),
        "end_session_endpoint": format!("{base}/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "grant_types_supported": GrantType::ALL,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "name", "preferred_username", "email", "email_verified"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": super::client_assertion::ALGS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": super::client_assertion::ALGS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": super::client_assertion::ALGS,
        "scopes_supported": scopes,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": [cfg.signing_alg.as_str()],
        "dpop_signing_alg_values_supported": super::dpop::ALGS,
    });
    if cfg.registration != crate::config::RegistrationMode::Off {
        m["registration_endpoint"] = json!(format!("{base}/register"));
    }
    m
}

/// The serialised document, served from memory.
pub struct Discovery {
    doc: RwLock<Arc<str>>,
}

impl Discovery {
    /// Build the document once from the catalogue.
    pub async fn load(cfg: &Config, db: &Db) -> Result<Discovery> {
        let d = Discovery { doc: RwLock::new(Arc::from("{}")) };
        d.rebuild(cfg, db).await?;
        Ok(d)
    }

    /// Rebuild it (after the catalogue may have changed).
    pub async fn rebuild(&self, cfg: &Config, db: &Db) -> Result<()> {
        let scopes: Vec<String> = catalogue::list(db).await?.into_iter().map(|s| s.name).collect();
        let doc: Arc<str> = Arc::from(metadata(cfg, &scopes).to_string());
        if let Ok(mut d) = self.doc.write() {
            *d = doc;
        }
        Ok(())
    }

    pub fn get(&self) -> Arc<str> {
        self.doc.read().map(|d| d.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_type_is_advertised_by_name() {
        let cfg = Config::for_tests("sqlite::memory:", None, "k".into());
        let m = metadata(&cfg, &["openid".to_string()]);
        assert_eq!(m["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials", "password", "urn:ietf:params:oauth:grant-type:device_code"]));
        assert_eq!(m["device_authorization_endpoint"], "http://127.0.0.1/device_authorization");
        assert_eq!(m["scopes_supported"], json!(["openid"]));
        assert_eq!(m["token_endpoint"], "http://127.0.0.1/token");
        assert_eq!(m["registration_endpoint"], "http://127.0.0.1/register");
        let off = Config { registration: crate::config::RegistrationMode::Off, ..cfg };
        assert!(metadata(&off, &[]).get("registration_endpoint").is_none());
    }
}
