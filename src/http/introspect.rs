//! `POST /introspect` (RFC 7662), for authenticated confidential clients
//! (resource servers register as such).
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ok_no_store, OAuthError};
use crate::oauth::rate_limit::Endpoint;
use super::form::{authorization, read_form};
use crate::app::Tessera;
use crate::clients::ClientType;
use crate::error::Error;
use crate::oauth::{client_auth, introspection, revocation};

pub async fn introspect(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, body, t.cfg.max_body_bytes).await?;
    let auth = authorization(&req);
    let presented = client_auth::require(auth, &params)?;
    // Check the token's signature first (in memory), so that one store round
    // trip can count the request, read the clients epoch and ask the denylist.
    let token = params.get("token").unwrap_or("");
    let verified = introspection::verify(&t.keys.ring(), &t.cfg.issuer, token, 0, false);
    let jti = verified.as_ref().ok().map(|c| c.jti.clone());
    let (round, key) = t.round(&presented.client_id, Endpoint::Introspect, jti.as_deref(), None).await?;
    let client = t.authenticate_at(&presented, round.epoch.clone(), &key).await?;
    if client.client_type != ClientType::Confidential {
        t.refund(&key).await;
        return Err(Error::InvalidClient { basic: auth.is_some(), reason: "introspection needs a confidential client" }.into());
    }
    let rate = t.rate_decide(&client, &round, &key).await?;
    params.require("token").map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let answer = revocation::introspect_verified(&t, token, verified, round.denied, round.epoch)
        .await
        .map_err(|e| OAuthError::from(e).with_rate(rate))?;
    let mut r = ok_no_store(&rate);
    Ok(r.json(answer))
}
