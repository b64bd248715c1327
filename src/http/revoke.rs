//! `POST /revoke` (RFC 7009).
use actix_web::{web, HttpResponse};

use super::error::OAuthError;
use super::extract::MeteredClient;
use crate::app::Tessera;
use crate::oauth::revocation;
use crate::rate_limit::Endpoint;

crate::plain_metered!(Revoke, Endpoint::Revoke);

pub async fn revoke(t: web::Data<Tessera>, m: MeteredClient<Revoke>) -> Result<HttpResponse, OAuthError> {
    let token = m.params().require("token").map_err(|e| m.fail(e))?;
    let hint = m.params().get("token_type_hint");
    revocation::revoke(t.store.as_ref(), &t.issuer, &m.client, token, hint).await.map_err(|e| m.fail(e))?;
    Ok(m.ok().finish())
}
