//! CORS at the edge (which origins a client registered: `oauth::origins`).
//!
//! * Discovery, RFC 8414 metadata and the JWKS are public documents: any
//!   origin may read them (`Access-Control-Allow-Origin: *`, no credentials).
//! * `/token`, `/revoke` and `/userinfo` answer a browser's request (and its
//!   preflight) with `Access-Control-Allow-Origin: <origin>` and
//!   `Vary: Origin` only when some client registered that origin; an unknown
//!   origin gets no CORS headers, so the browser withholds the answer.
//! * Every other path (the login, consent and account pages) never sends
//!   CORS headers.
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::app::Tessera;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Readable from anywhere.
    Public,
    /// For the origins clients registered; the methods a preflight may ask for.
    Clients(&'static str),
}

/// Which kind of CORS a path has, if any.
pub fn kind_of(path: &str) -> Option<Kind> {
    match path {
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" | "/.well-known/jwks.json" => Some(Kind::Public),
        "/token" | "/revoke" | "/device_authorization" | "/register" => Some(Kind::Clients("POST")),
        "/userinfo" => Some(Kind::Clients("GET, POST")),
        _ => None,
    }
}

/// Whether `origin` gets CORS headers at a path of `kind`.
pub async fn allowed(t: &Tessera, kind: Kind, origin: &str) -> bool {
    match kind {
        Kind::Public => true,
        Kind::Clients(_) => crate::oauth::origins::registered(&t.db, origin).await.unwrap_or_else(|e| {
            log::warn!("checking a CORS origin: {e}");
            false
        }),
    }
}

const EXPOSED: &str = "WWW-Authenticate, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset";

/// Add the CORS headers of an actual request to its response.
pub fn decorate(h: &mut HeaderMap, kind: Kind, origin: &str, allowed: bool) {
    match kind {
        Kind::Public => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        Kind::Clients(_) => {
            h.append(header::VARY, HeaderValue::from_static("Origin"));
            if let (true, Ok(o)) = (allowed, HeaderValue::from_str(origin)) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
                h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
            }
        }
    }
}

/// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`).
pub fn preflight(kind: Kind, origin: &str, allowed: bool) -> HttpResponse {
    let mut r = HttpResponse::build(StatusCode::NO_CONTENT);
    match kind {
        Kind::Public => {
            r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"));
        }
        Kind::Clients(methods) => {
            r.insert_header((header::VARY, "Origin"));
            if allowed {
                r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                    .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods))
                    .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Content-Type, DPoP"))
                    .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
            }
        }
    }
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_paths_have_cors() {
        assert_eq!(kind_of("/.well-known/jwks.json"), Some(Kind::Public));
        assert_eq!(kind_of("/token"), Some(Kind::Clients("POST")));
        assert_eq!(kind_of("/userinfo"), Some(Kind::Clients("GET, POST")));
        for page in ["/login", "/authorize", "/authorize/consent", "/account", "/account/api/grants", "/portal", "/admin", "/introspect"] {
            assert_eq!(kind_of(page), None, "{page}");
        }
    }
}
