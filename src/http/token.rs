//! `POST /token` (RFC 6749 §3.2): parse, hand to `oauth::grants`, render.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::OAuthError;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::oauth::grants;

pub async fn token(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let resp = grants::token(&t, authorization(&req), &params).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(resp))
}
