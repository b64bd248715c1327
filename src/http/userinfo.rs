//! `GET|POST /userinfo` (OpenID Connect Core §5.3) with a bearer token
//! (RFC 6750 §2.1, §2.2; never in the query string).
use actix_web::{web, HttpResponse};

use super::error::{ok_no_store, OAuthError};
use super::extract::{bearer_error, BearerToken, Protected};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::userinfo;
use crate::oauth::bearer::Resource;

pub struct UserInfo;

impl Protected for UserInfo {
    const RESOURCE: Resource = Resource::UserInfo;
    const FORM_BODY: bool = true;
}

pub async fn userinfo(t: web::Data<Tessera>, b: BearerToken<UserInfo>) -> Result<HttpResponse, OAuthError> {
    let b = b.0;
    let fail = |e: Error| bearer_error(e, Resource::UserInfo.scope()).with_rate(b.rate);
    let user = crate::registry::users::get(&t.db, &b.claims.sub).await.map_err(fail)?;
    let user = user.ok_or_else(|| fail(Error::InvalidToken("the user no longer exists")))?;
    let scopes: Vec<&str> = crate::oauth::scopes::words(&b.claims.scope).collect();
    Ok(ok_no_store(&b.rate).json(userinfo::claims(&user, &scopes)))
}
