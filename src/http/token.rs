//! `POST /token` (RFC 6749 §3.2): parse, hand to `oauth::grants`, render.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ok_no_store, OAuthError};
use crate::oauth::rate_limit::Endpoint;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::oauth::{client_auth, grants};

pub async fn token(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let grant_type = grants::grant_type(&params)?;
    let presented = client_auth::require(authorization(&req), &params)?;
    // A refresh reads its token in the same round trip as the rate count.
    let refresh = grants::refresh_token::hash_presented(grant_type, &params);
    let (mut round, key) = t.round(&presented.client_id, Endpoint::Token, None, refresh.as_deref()).await?;
    let client = t.authenticate_at(&presented, round.epoch.clone(), &key).await?;
    let rate = t.rate_decide(&client, &round, &key).await?;
    let resp = grants::token(&t, &client, grant_type, &params, round.refresh.take()).await.map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let mut r = ok_no_store(&rate);
    r.insert_header((header::PRAGMA, "no-cache"));
    Ok(r.json(resp))
}
