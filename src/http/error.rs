//! The HTTP edge of errors: one type, [`OAuthError`], rendered as the
//! RFC 6749 §5.2 JSON body. Built from the domain [`Error`] by the one
//! `From` impl below, which is the only place a status code is chosen.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;
use crate::rate_limit::Decision;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    pub www_authenticate: Option<String>,
    /// The rate-limit state to report in `X-RateLimit-*` (and `Retry-After` on 429).
    pub rate: Option<Decision>,
    /// `Allow` of a 405: the methods the resource answers.
    pub allow: Option<String>,
    /// `DPoP-Nonce` (RFC 9449 §8): the nonce the client's next proof must carry.
    pub dpop_nonce: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<i64>,
}

/// Add `X-RateLimit-*` headers for `d` to a response being built.
pub fn rate_headers(r: &mut actix_web::HttpResponseBuilder, d: &Decision) {
    r.insert_header(("X-RateLimit-Limit", d.limit.to_string()))
        .insert_header(("X-RateLimit-Remaining", d.remaining.to_string()))
        .insert_header(("X-RateLimit-Reset", d.reset_secs.to_string()));
    if !d.allowed {
        r.insert_header((header::RETRY_AFTER, d.retry_after_secs.to_string()));
    }
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, code, description: description.into(), www_authenticate: None, rate: None, allow: None, dpop_nonce: None }
    }

    /// Report the rate-limit state on this error too.
    pub fn with_rate(mut self, d: Option<Decision>) -> Self {
        if self.rate.is_none() {
            self.rate = d;
        }
        self
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let bad = |code| OAuthError::new(S::BAD_REQUEST, code, e.to_string());
        match &e {
            Error::InvalidRequest(_) | Error::Validation(_) => bad("invalid_request"),
            Error::InvalidClient { basic, .. } => OAuthError {
                www_authenticate: basic.then(|| "Basic realm=\"tessera\", charset=\"UTF-8\"".to_string()),
                ..OAuthError::new(S::UNAUTHORIZED, "invalid_client", e.to_string())
            },
            Error::InvalidGrant(_) => bad("invalid_grant"),
            Error::InvalidToken(_) => OAuthError::new(S::UNAUTHORIZED, "invalid_token", e.to_string()),
            Error::InsufficientScope(_) => OAuthError::new(S::FORBIDDEN, "insufficient_scope", e.to_string()),
            Error::UnauthorizedClient(_) => bad("unauthorized_client"),
            Error::UnsupportedGrantType(_) => bad("unsupported_grant_type"),
            Error::InvalidScope(_) => bad("invalid_scope"),
            Error::InvalidTarget(_) => bad("invalid_target"),
            Error::UnsupportedTokenType(_) => bad("unsupported_token_type"),
            Error::AccessDenied(_) => OAuthError::new(S::FORBIDDEN, "access_denied", e.to_string()),
            Error::AuthorizationPending => bad("authorization_pending"),
            Error::InvalidDpopProof(_) => bad("invalid_dpop_proof"),
            Error::UseDpopNonce => bad("use_dpop_nonce"),
            Error::InvalidRedirectUri(_) => bad("invalid_redirect_uri"),
            Error::InvalidClientMetadata(_) => bad("invalid_client_metadata"),
            Error::SlowDown => bad("slow_down"),
            Error::DeviceDenied => bad("access_denied"),
            Error::ExpiredToken => bad("expired_token"),
            Error::NotFound(_) => OAuthError::new(S::NOT_FOUND, "not_found", e.to_string()),
            Error::Conflict(_) => OAuthError::new(S::CONFLICT, "conflict", e.to_string()),
            Error::RateLimited(d) => OAuthError {
                rate: Some(*d),
                ..OAuthError::new(S::TOO_MANY_REQUESTS, "rate_limit_exceeded", e.to_string())
            },
            Error::Db(_) | Error::Store(_) => {
                if let Error::Db(d) | Error::Store(crate::store::StoreError::Db(d)) = &e {
                    crate::store::credentials::observe_db(d);
                }
                crate::metrics::METRICS.store_error();
                match e {
                    // the breaker said so once, when it opened
                    Error::Store(crate::store::StoreError::Redis(ref r)) if crate::store::breaker::Breaker::is_refusal(r) => log::debug!("{e}"),
                    Error::Db(ref d) | Error::Store(crate::store::StoreError::Db(ref d)) if crate::db::is_refusal(d) => log::debug!("{e}"),
                    _ => log::error!("{e}"),
                }
                OAuthError::new(S::SERVICE_UNAVAILABLE, "temporarily_unavailable", "storage is unavailable; retry later")
            }
            Error::Key(_) | Error::Config(_) => {
                log::error!("{e}");
                OAuthError::new(S::INTERNAL_SERVER_ERROR, "server_error", "internal error")
            }
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        crate::metrics::METRICS.error(self.code);
        let mut r = HttpResponse::build(self.status);
        r.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(w) = &self.www_authenticate {
            r.insert_header((header::WWW_AUTHENTICATE, w.as_str()));
        }
        if let Some(a) = &self.allow {
            r.insert_header((header::ALLOW, a.as_str()));
        }
        if let Some(n) = &self.dpop_nonce {
            r.insert_header(("DPoP-Nonce", n.as_str()));
        }
        let limited = self.rate.filter(|d| !d.allowed);
        if let Some(d) = &self.rate {
            rate_headers(&mut r, d);
        }
        r.json(Body {
            error: self.code,
            error_description: &self.description,
            limit: limited.map(|d| d.limit),
            retry_after: limited.map(|d| d.retry_after_secs),
        })
    }
}

/// A 200 of a limited endpoint: `Cache-Control: no-store` and the `X-RateLimit-*` headers.
pub fn ok_no_store(rate: &Option<Decision>) -> actix_web::HttpResponseBuilder {
    let mut r = HttpResponse::Ok();
    r.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(d) = rate {
        rate_headers(&mut r, d);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let e: OAuthError = Error::InvalidClient { basic: true, reason: "x" }.into();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.www_authenticate.unwrap().starts_with("Basic"));
        let e: OAuthError = Error::InvalidClient { basic: false, reason: "x" }.into();
        assert!(e.www_authenticate.is_none());
        let e: OAuthError = Error::invalid_scope("s").into();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "invalid_scope"));
        let e: OAuthError = Error::Db(sea_orm::DbErr::Custom("down".into())).into();
        assert_eq!((e.status, e.code), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"));
        assert!(!e.description.contains("down"));
    }
}
