//! Discovery: `/.well-known/openid-configuration` (OpenID Connect Discovery
//! 1.0) and `/.well-known/oauth-authorization-server` (RFC 8414), both the
//! document `oauth::discovery` builds.
use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::app::Tessera;

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
        .body(t.discovery.get().to_string())
}
