//! `POST /introspect` (RFC 7662), for authenticated confidential clients
//! (resource servers register as such).
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{rate_headers, OAuthError};
use crate::oauth::rate_limit::Endpoint;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::clients::ClientType;
use crate::error::Error;
use crate::oauth::revocation;

pub async fn introspect(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let auth = authorization(&req);
    let client = t.authenticate_client(auth, &params).await?;
    if client.client_type != ClientType::Confidential {
        return Err(Error::InvalidClient { basic: auth.is_some(), reason: "introspection needs a confidential client" }.into());
    }
    let rate = t.rate_check(&client, Endpoint::Introspect).await?;
    let token = params.require("token").map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let answer = revocation::introspect(&t, token).await.map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let mut r = HttpResponse::Ok();
    r.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(d) = &rate {
        rate_headers(&mut r, d);
    }
    Ok(r.json(answer))
}
