//! Reading an `application/x-www-form-urlencoded` body within the size
//! limit, into [`Params`]. Every refusal is an RFC 6749 JSON error.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use super::error::OAuthError;
use crate::oauth::params::Params;

pub async fn read_form(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Params, OAuthError> {
    if req.query_string().len() > 0 {
        return Err(OAuthError::invalid_request("parameters belong in the request body, not the query string"));
    }
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let too_large = || {
        OAuthError::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", format!("the body exceeds {limit} bytes"))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| OAuthError::invalid_request("the body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Params::parse(&body).map_err(OAuthError::from)
}

/// The `Authorization` header as text, if any.
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}
