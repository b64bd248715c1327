//! `POST /token` (RFC 6749 §3.2): the client is authenticated and metered by
//! [`MeteredClient`]; the grant runs in `oauth::grants`.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::dpop::{self, with_nonce};
use super::error::OAuthError;
use super::extract::{Metered, MeteredClient};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::gate::Ask;
use crate::oauth::grants::{self, TokenRequest};
use crate::oauth::origins;
use crate::oauth::params::Params;
use crate::registry::consents::Epochs;
use crate::rate_limit::Endpoint;

pub struct Token;

impl Metered for Token {
    const ENDPOINT: Endpoint = Endpoint::Token;
    /// The request, and the hash of a presented refresh token: a refresh
    /// reads its token in the same round trip as the rate count.
    type Pre = (TokenRequest, Option<String>);
    fn pre(_: &Tessera, params: Params) -> Result<Self::Pre, Error> {
        let req = TokenRequest::parse(params)?;
        let refresh = req.presented_refresh_hash();
        Ok((req, refresh))
    }
    fn params(pre: &Self::Pre) -> &Params {
        &pre.0.params
    }
    fn ask(pre: &Self::Pre) -> Ask<'_> {
        Ask { jti: None, refresh: pre.1.as_deref(), grants: pre.0.checks_consent() }
    }
}

pub async fn token(t: web::Data<Tessera>, req: HttpRequest, mut m: MeteredClient<Token>) -> Result<HttpResponse, OAuthError> {
    // A browser's request: a public client only from an origin it registered.
    if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !origins::allowed_for(&m.client, origin) {
            return Err(m.fail(Error::UnauthorizedClient(format!("{origin} is not a registered origin of this client"))));
        }
    }
    let nonce = dpop::nonce(&t, &req);
    let proof = dpop::proof(&t, &req, "/token", None).await.map_err(|e| with_nonce(m.fail(e), &nonce))?;
    m.pre.0.dpop_alg = proof.as_ref().map(|p| p.alg.clone());
    m.pre.0.dpop_jkt = proof.map(|p| p.jkt);
    let read = grants::Read { refresh: m.answer.refresh.take(), epochs: Epochs::of(&m.answer) };
    let resp = grants::token(t.stores(), &t.issuer, &m.client, &m.pre.0, read).await.map_err(|e| with_nonce(m.fail(e), &nonce))?;
    let mut ok = m.ok();
    if let Some(n) = nonce {
        ok.insert_header(("DPoP-Nonce", n));
    }
    Ok(ok.insert_header((header::PRAGMA, "no-cache")).json(resp))
}
