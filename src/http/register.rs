//! `POST /register` (RFC 7591) and `GET`/`PUT`/`DELETE /register/{client_id}`
//! (RFC 7592): JSON in, JSON out; the rules are
//! `oauth::dynamic_registration`'s. Every request is counted against its
//! address first.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ok_no_store, OAuthError};
use super::extract::{authorization, bearer_error, client_ip};
use super::form::read_json;
use crate::app::Tessera;
use crate::config::RegistrationMode;
use crate::error::Error;
use crate::oauth::dynamic_registration::{self as dcr, REQUESTS_PER_MIN_ADDRESS};
use crate::rate_limit::Decision;

/// The bearer token of the request, if any (an initial or a registration access token).
fn bearer(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    match authorization(req).map(|h| h.split_once(' ')) {
        None => Ok(None),
        Some(Some((scheme, tok))) if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() => Ok(Some(tok.trim().to_string())),
        Some(_) => Err(bearer_error(Error::invalid_request("use Authorization: Bearer <token>"), "")),
    }
}

/// Refuse when registration is off, or this address has spent its budget.
async fn admitted(t: &Tessera, req: &HttpRequest) -> Result<(), OAuthError> {
    if t.cfg.registration == RegistrationMode::Off {
        return Err(Error::NotFound("dynamic client registration (TESSERA_REGISTRATION=off)".into()).into());
    }
    let Some(ip) = client_ip(req, &t.cfg.trusted_proxies) else { return Ok(()) };
    let keys = [(format!("register-ip:{ip}"), REQUESTS_PER_MIN_ADDRESS)];
    match crate::oauth::throttle::spend(t.store.as_ref(), &keys, chrono::Utc::now().timestamp_millis()).await? {
        None => Ok(()),
        Some(retry) => {
            let d = Decision { allowed: false, limit: REQUESTS_PER_MIN_ADDRESS, remaining: 0, reset_secs: retry, retry_after_secs: retry };
            Err(Error::RateLimited(d).into())
        }
    }
}

fn challenge(e: Error) -> OAuthError {
    match e {
        Error::InvalidToken(_) => bearer_error(e, ""),
        e => e.into(),
    }
}

/// `POST /register`: a client registers itself.
pub async fn register(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    admitted(&t, &req).await?;
    let token = bearer(&req)?;
    let m = dcr::parse(read_json(&req, body, t.cfg.max_body_bytes).await?)?;
    let v = dcr::register(&t.db, t.cfg.registration, token.as_deref(), &m, t.cfg.base()).await.map_err(challenge)?;
    Ok(ok_no_store(&None).status(StatusCode::CREATED).json(v))
}

/// `GET /register/{client_id}`: the client's registration as it stands.
pub async fn read(t: web::Data<Tessera>, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    admitted(&t, &req).await?;
    let c = dcr::authenticate(&t.db, &id, bearer(&req)?.as_deref()).await.map_err(challenge)?;
    Ok(ok_no_store(&None).json(dcr::response(&c, None, None, t.cfg.base())))
}

/// `PUT /register/{client_id}`: replace the metadata that may change.
pub async fn replace(t: web::Data<Tessera>, req: HttpRequest, id: web::Path<String>, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    admitted(&t, &req).await?;
    let c = dcr::authenticate(&t.db, &id, bearer(&req)?.as_deref()).await.map_err(challenge)?;
    let m = dcr::parse(read_json(&req, body, t.cfg.max_body_bytes).await?)?;
    let v = dcr::replace(&t.db, t.store.as_ref(), &c, &m, t.cfg.base()).await?;
    Ok(ok_no_store(&None).json(v))
}

/// `DELETE /register/{client_id}`: the client deregisters; its tokens are revoked.
pub async fn delete(t: web::Data<Tessera>, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    admitted(&t, &req).await?;
    let c = dcr::authenticate(&t.db, &id, bearer(&req)?.as_deref()).await.map_err(challenge)?;
    crate::registry::clients::delete(&t.db, t.store.as_ref(), &c.client_id, Some("dynamic-registration")).await?;
    Ok(HttpResponse::NoContent().insert_header(("Cache-Control", "no-store")).finish())
}
