//! `POST /par` (RFC 9126): a client pushes its authorization request; the
//! rules are `oauth::par`'s.
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::OAuthError;
use super::extract::MeteredClient;
use crate::app::Tessera;
use crate::oauth::par;
use crate::rate_limit::Endpoint;

crate::plain_metered!(Par, Endpoint::Par);

pub async fn push(t: web::Data<Tessera>, m: MeteredClient<Par>) -> Result<HttpResponse, OAuthError> {
    let (request_uri, expires_in) = par::push(t.store.as_ref(), &m.client, m.pre.clone(), crate::db::now()).await.map_err(|e| m.fail(e))?;
    let mut r = m.ok();
    Ok(r.status(actix_web::http::StatusCode::CREATED).json(json!({"request_uri": request_uri, "expires_in": expires_in})))
}
