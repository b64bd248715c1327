//! `GET|POST /userinfo` with a bearer token (RFC 6750 §2.1, §2.2; never in
//! the query string).
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::{ok_no_store, OAuthError};
use super::form::read_form;
use crate::oauth::rate_limit::Endpoint;
use crate::app::Tessera;
use crate::oauth::userinfo::{self, BearerError};

fn bearer_error(e: BearerError) -> HttpResponse {
    let (status, code, desc, scope) = match e {
        BearerError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d, None),
        BearerError::InvalidToken(d) => (StatusCode::UNAUTHORIZED, "invalid_token", d, None),
        BearerError::InsufficientScope(s) => (StatusCode::FORBIDDEN, "insufficient_scope", "the token lacks a scope", Some(s)),
        BearerError::Unavailable => {
            return HttpResponse::ServiceUnavailable()
                .json(json!({"error": "temporarily_unavailable", "error_description": "retry later"}))
        }
        BearerError::RateLimited(d) => return actix_web::ResponseError::error_response(&OAuthError::from(crate::error::Error::RateLimited(d))),
    };
    let mut challenge = format!("Bearer realm=\"tessera\", error=\"{code}\", error_description=\"{desc}\"");
    if let Some(s) = scope {
        challenge.push_str(&format!(", scope=\"{s}\""));
    }
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": code, "error_description": desc}))
}

fn header_token(req: &HttpRequest) -> Result<Option<String>, BearerError> {
    let Some(h) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let h = h.to_str().map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
    match h.split_once(' ') {
        Some((scheme, tok)) if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() => Ok(Some(tok.trim().to_string())),
        _ => Err(BearerError::InvalidRequest("use Authorization: Bearer <token>")),
    }
}

async fn respond(t: &Tessera, token: Option<String>) -> HttpResponse {
    let Some(token) = token else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tessera\""))
            .finish();
    };
    let b = match userinfo::check_bearer(t, &token, "openid", Some(Endpoint::Userinfo)).await {
        Ok(b) => b,
        Err(e) => return bearer_error(e),
    };
    match crate::users::get(&t.db, &b.claims.sub).await {
        Ok(Some(user)) => {
            let scopes: Vec<&str> = b.claims.scope.split(' ').collect();
            ok_no_store(&b.rate).json(userinfo::claims(&user, &scopes))
        }
        Ok(None) => bearer_error(BearerError::InvalidToken("the user no longer exists")),
        Err(_) => bearer_error(BearerError::Unavailable),
    }
}

pub async fn get(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    if req.query_string().contains("access_token") {
        return bearer_error(BearerError::InvalidRequest("send the token in the Authorization header, not the URL"));
    }
    match header_token(&req) {
        Ok(tok) => respond(&t, tok).await,
        Err(e) => bearer_error(e),
    }
}

pub async fn post(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let from_header = match header_token(&req) {
        Ok(tok) => tok,
        Err(e) => return bearer_error(e),
    };
    let has_body = req.headers().contains_key(header::CONTENT_TYPE);
    let from_body = if has_body {
        match read_form(&req, body, t.cfg.max_body_bytes).await {
            Ok(p) => p.get("access_token").map(str::to_string),
            Err(_) => return bearer_error(BearerError::InvalidRequest("malformed body")),
        }
    } else {
        None
    };
    if from_header.is_some() && from_body.is_some() {
        return bearer_error(BearerError::InvalidRequest("send the token once"));
    }
    respond(&t, from_header.or(from_body)).await
}
