//! The `DPoP` header at the edge (RFC 9449): the proof of a request,
//! verified for its method and URL by `oauth::dpop`, its `jti` spent in the
//! token store; and the `DPoP-Nonce` every answer to a DPoP request carries
//! when nonces are required.
use actix_web::HttpRequest;

use super::error::OAuthError;
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::dpop::{self, Expect, Proof, ProofError};

/// The verified proof of `req` at `path` (with `access_token`: at a
/// resource, its `ath`); `None` when the request has no `DPoP` header.
pub async fn proof(t: &Tessera, req: &HttpRequest, path: &str, access_token: Option<&str>) -> Result<Option<Proof>, Error> {
    let mut headers = req.headers().get_all("dpop");
    let Some(first) = headers.next() else { return Ok(None) };
    if headers.next().is_some() {
        return Err(Error::InvalidDpopProof("send one DPoP header".into()));
    }
    let text = first.to_str().map_err(|_| Error::InvalidDpopProof("the DPoP header is not text".into()))?;
    let htu = format!("{}{path}", t.cfg.base());
    let expect = Expect { htm: req.method().as_str(), htu: &htu, access_token };
    let p = dpop::verify(text, &expect, &t.dpop, crate::db::now()).map_err(|e| match e {
        ProofError::Invalid(m) => Error::InvalidDpopProof(m),
        ProofError::UseNonce => Error::UseDpopNonce,
    })?;
    let (key, until) = p.once_key();
    if !t.store.use_once(&key, until).await? {
        return Err(Error::InvalidDpopProof("the proof was already used (its jti is spent)".into()));
    }
    Ok(Some(p))
}

/// The nonce to send back on an answer to `req`, if it is a DPoP request and nonces are required.
pub fn nonce(t: &Tessera, req: &HttpRequest) -> Option<String> {
    (t.dpop.required && req.headers().contains_key("dpop")).then(|| t.dpop.current(crate::db::now()))
}

/// An error carrying the nonce to retry with.
pub fn with_nonce(mut e: OAuthError, nonce: &Option<String>) -> OAuthError {
    e.dpop_nonce = nonce.clone();
    e
}
