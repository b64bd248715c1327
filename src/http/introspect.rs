//! `POST /introspect` (RFC 7662), for authenticated confidential clients:
//! about their own tokens, or any token with the introspection permission
//! (`oauth::introspection::may_introspect`).
use actix_web::{web, HttpResponse};

use super::error::OAuthError;
use super::extract::{Metered, MeteredClient};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::gate::Ask;
use crate::oauth::introspection::{self, Rejected};
use crate::oauth::params::Params;
use crate::oauth::tokens::AccessClaims;
use crate::rate_limit::Endpoint;

pub struct Introspect;

impl Metered for Introspect {
    const ENDPOINT: Endpoint = Endpoint::Introspect;
    const CONFIDENTIAL_ONLY: bool = true;
    /// The token's signature is checked first (in memory), so that the one
    /// store round trip also asks the denylist for its `jti`.
    type Pre = (Params, Result<AccessClaims, Rejected>);
    fn pre(t: &Tessera, params: Params) -> Result<Self::Pre, Error> {
        let verified = introspection::verify(&t.issuer.ring(), t.issuer.issuer(), params.get("token").unwrap_or(""), 0, false);
        Ok((params, verified))
    }
    fn params(pre: &Self::Pre) -> &Params {
        &pre.0
    }
    fn ask(pre: &Self::Pre) -> Ask<'_> {
        Ask { jti: pre.1.as_ref().ok().map(|c| c.jti.as_str()), ..Default::default() }
    }
}

pub async fn introspect(t: web::Data<Tessera>, m: MeteredClient<Introspect>) -> Result<HttpResponse, OAuthError> {
    let token = m.params().require("token").map_err(|e| m.fail(e))?;
    let (verified, denied, epoch) = (m.pre.1.clone(), m.answer.denied, m.answer.epoch.clone());
    let answer = introspection::introspect_verified(&t.gate, t.store.as_ref(), t.issuer.issuer(), &m.client, token, verified, denied, epoch)
        .await
        .map_err(|e| m.fail(e))?;
    Ok(m.ok().json(answer))
}
