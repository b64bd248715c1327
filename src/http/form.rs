//! Reading an `application/x-www-form-urlencoded` body within the size
//! limit, into [`Params`]. Every refusal is an RFC 6749 JSON error.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use futures_util::{Stream, StreamExt};

use super::error::OAuthError;
use crate::oauth::params::Params;

/// A request body as actix hands it over (`web::Payload`, or the raw
/// payload an extractor takes).
pub trait Body: Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin {}
impl<S: Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin> Body for S {}

pub async fn read_form(req: &HttpRequest, payload: impl Body, limit: usize) -> Result<Params, OAuthError> {
    let body = read_body(req, payload, limit).await?;
    Params::parse(&body).map_err(OAuthError::from)
}

/// A web form's pairs, repeats and line breaks allowed (checkbox lists, textareas).
pub async fn read_pairs(req: &HttpRequest, payload: impl Body, limit: usize) -> Result<Vec<(String, String)>, OAuthError> {
    let body = read_body(req, payload, limit).await?;
    crate::oauth::params::parse_pairs(&body, true).map_err(OAuthError::from)
}

/// A JSON body (admin API), within the size limit.
pub async fn read_json<T: serde::de::DeserializeOwned>(req: &HttpRequest, payload: impl Body, limit: usize) -> Result<T, OAuthError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return Err(OAuthError::invalid_request("the body must be application/json"));
    }
    let body = read_limited(req, payload, limit).await?;
    serde_json::from_slice(&body).map_err(|e| OAuthError::invalid_request(format!("invalid JSON: {e}")))
}

async fn read_body(req: &HttpRequest, payload: impl Body, limit: usize) -> Result<web::BytesMut, OAuthError> {
    if !req.query_string().is_empty() {
        return Err(OAuthError::invalid_request("parameters belong in the request body, not the query string"));
    }
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    read_limited(req, payload, limit).await
}

async fn read_limited(req: &HttpRequest, mut payload: impl Body, limit: usize) -> Result<web::BytesMut, OAuthError> {
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
    Ok(body)
}
