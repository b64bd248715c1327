//! `POST /par` (RFC 9126): a client pushes its authorization request; the
//! rules are `oauth::par`'s.
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::dpop::{self, with_nonce};
use super::error::OAuthError;
use super::extract::MeteredClient;
use crate::app::Tessera;
use crate::oauth::par;
use crate::rate_limit::Endpoint;

crate::plain_metered!(Par, Endpoint::Par);

pub async fn push(t: web::Data<Tessera>, req: HttpRequest, m: MeteredClient<Par>) -> Result<HttpResponse, OAuthError> {
    // A DPoP proof here binds the code to come to its key (RFC 9449 §10.1).
    let nonce = dpop::nonce(&t, &req);
    let proof = dpop::proof(&t, &req, "/par", None).await.map_err(|e| with_nonce(m.fail(e), &nonce))?;
    if let Some(p) = proof.as_ref().filter(|p| !crate::oauth::fapi2::alg_allowed(&m.client, &p.alg)) {
        let e = crate::error::Error::InvalidDpopProof(format!("FAPI 2.0 profile: {} is not allowed for DPoP proofs", p.alg));
        return Err(with_nonce(m.fail(e), &nonce));
    }
    let params = par::with_proof_key(m.pre.clone(), proof.map(|p| p.jkt)).map_err(|e| with_nonce(m.fail(e), &nonce))?;
    let (request_uri, expires_in) = par::push(t.store.as_ref(), &m.client, params, crate::db::now()).await.map_err(|e| m.fail(e))?;
    let mut r = m.ok();
    if let Some(n) = nonce {
        r.insert_header(("DPoP-Nonce", n));
    }
    Ok(r.status(actix_web::http::StatusCode::CREATED).json(json!({"request_uri": request_uri, "expires_in": expires_in})))
}
