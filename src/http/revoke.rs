//! `POST /revoke` (RFC 7009).
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ok_no_store, OAuthError};
use crate::oauth::rate_limit::Endpoint;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::oauth::{client_auth, revocation};

pub async fn revoke(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let presented = client_auth::require(authorization(&req), &params)?;
    let (round, key) = t.round(&presented.client_id, Endpoint::Revoke, None, None).await?;
    let client = t.authenticate_at(&presented, round.epoch.clone(), &key).await?;
    let rate = t.rate_decide(&client, &round, &key).await?;
    let token = params.require("token").map_err(|e| OAuthError::from(e).with_rate(rate))?;
    revocation::revoke(&t, &client, token, params.get("token_type_hint"))
        .await
        .map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let mut r = ok_no_store(&rate);
    Ok(r.finish())
}
