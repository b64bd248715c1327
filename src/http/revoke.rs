//! `POST /revoke` (RFC 7009).
use actix_web::{web, HttpResponse};

use super::error::OAuthError;
use super::extract::{Metered, MeteredClient};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::gate::Ask;
use crate::oauth::params::Params;
use crate::oauth::revocation;
use crate::rate_limit::Endpoint;

pub struct Revoke;

impl Metered for Revoke {
    const ENDPOINT: Endpoint = Endpoint::Revoke;
    type Pre = Params;
    fn pre(_: &Tessera, params: Params) -> Result<Params, Error> {
        Ok(params)
    }
    fn params(pre: &Params) -> &Params {
        pre
    }
    fn ask(_: &Params) -> Ask<'_> {
        Ask::default()
    }
}

pub async fn revoke(t: web::Data<Tessera>, m: MeteredClient<Revoke>) -> Result<HttpResponse, OAuthError> {
    let token = m.params().require("token").map_err(|e| m.fail(e))?;
    let hint = m.params().get("token_type_hint");
    revocation::revoke(t.store.as_ref(), &t.issuer, &m.client, token, hint).await.map_err(|e| m.fail(e))?;
    Ok(m.ok().finish())
}
