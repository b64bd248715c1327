//! `GET /.well-known/jwks.json`: served from memory, with a `max-age`
//! verifiers can rely on (key rotation waits that long before a new key
//! signs) and an `ETag` for cheap revalidation.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::Tessera;

pub async fn jwks(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let ring = t.keys.ring();
    let cache = format!("public, max-age={}", t.cfg.jwks_max_age.as_secs());
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == ring.etag || e.trim() == "*"));
    let mut r = if matches { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    r.insert_header((header::CACHE_CONTROL, cache)).insert_header((header::ETAG, ring.etag.as_str()));
    if matches {
        return r.finish();
    }
    r.content_type("application/jwk-set+json").body(ring.jwks.to_string())
}
