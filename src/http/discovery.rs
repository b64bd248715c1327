//! Discovery: `/.well-known/openid-configuration` (OpenID Connect Discovery
//! 1.0) and `/.well-known/oauth-authorization-server` (RFC 8414). Both say
//! exactly what this server implements and nothing more.
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::app::Tessera;
use crate::config::Config;
use crate::oauth::grants;

/// The metadata document (pure: a function of the configuration).
pub fn metadata(cfg: &Config, scopes: &[String]) -> Value {
    let base = cfg.base();
    json!({
        "issuer": cfg.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{base}/revoke"),
        "introspection_endpoint": format!("{base}/introspect"),
        "grant_types_supported": grants::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "name", "preferred_username", "email", "email_verified"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": [cfg.signing_alg.as_str()],
    })
}

pub async fn openid_configuration(t: web::Data<Tessera>) -> HttpResponse {
    document(&t)
}

pub async fn oauth_authorization_server(t: web::Data<Tessera>) -> HttpResponse {
    document(&t)
}

fn document(t: &Tessera) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={}", t.cfg.jwks_max_age.as_secs())))
        .content_type("application/json")
        .body(t.discovery().to_string())
}
