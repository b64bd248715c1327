//! `POST /token` (RFC 6749 §3.2): parse, hand to `oauth::grants`, render.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{rate_headers, OAuthError};
use crate::oauth::rate_limit::Endpoint;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::{client_auth, grants};

pub async fn token(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let grant_type = grants::grant_type(&params)?;
    let presented = client_auth::extract(authorization(&req), &params)?
        .ok_or(Error::InvalidClient { basic: false, reason: "client authentication required" })?;
    let (round, key) = t.round(&presented.client_id, Endpoint::Token, None).await?;
    let client = t.authenticate_at(&presented, round.epoch.clone(), &key).await?;
    let rate = t.rate_decide(&client, &round, &key).await?;
    let resp = grants::token(&t, &client, grant_type, &params).await.map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let mut r = HttpResponse::Ok();
    r.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
    if let Some(d) = &rate {
        rate_headers(&mut r, d);
    }
    Ok(r.json(resp))
}
