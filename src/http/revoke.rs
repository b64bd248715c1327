//! `POST /revoke` (RFC 7009).
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::OAuthError;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::oauth::revocation;

pub async fn revoke(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let client = t.authenticate_client(authorization(&req), &params).await?;
    let token = params.require("token")?;
    revocation::revoke(&t, &client, token, params.get("token_type_hint")).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish())
}
