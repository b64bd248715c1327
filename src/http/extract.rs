//! The edge's extractors: what a handler asks for instead of reading the
//! request itself.
//!
//! * [`MeteredClient`]: a form-encoded request of an authenticated client,
//!   counted against its rate limit (`/token`, `/revoke`, `/introspect`).
//! * [`BearerToken`]: a bearer token for one of Tessera's own protected
//!   resources (`/userinfo`, `/admin/api/*`), RFC 6750.
//! * [`PageUser`]: the signed-in user of a page, with a required role.
//! * [`CsrfForm`]: a posted page form whose CSRF token matches the session.
//!
//! Each turns the request into a typed value or refuses it with the one
//! error type of its kind ([`OAuthError`] for APIs, [`PageRefusal`] for pages).
use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use futures_util::future::LocalBoxFuture;

use super::error::{ok_no_store, OAuthError};
use super::form::{read_form, read_pairs};
use super::pages::{current_user, error_page, redirect, session};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::bearer::{self, Bearer, Resource};
use crate::oauth::client_auth;
use crate::oauth::gate::Ask;
use crate::oauth::params::Params;
use crate::rate_limit::{Decision, Endpoint};
use crate::registry::clients::Client;
use crate::registry::users::User;
use crate::session::Session;
use crate::store::RoundAnswer;

/// The provider the request was routed to.
fn tessera(req: &HttpRequest) -> Result<web::Data<Tessera>, Error> {
    req.app_data::<web::Data<Tessera>>().cloned().ok_or_else(|| Error::Config("no provider mounted".into()))
}

/// The client's address: the TCP peer, or behind a trusted proxy the
/// address it recorded (`crate::net`).
pub fn client_ip(req: &HttpRequest, trusted: &[crate::net::Cidr]) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    Some(crate::net::client_addr(peer, text("forwarded"), text("x-forwarded-for"), trusted).to_string())
}

/// The `Authorization` header as text, if any.
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

// ---- client-authenticated, metered ----

/// A client-authenticated endpoint: what it counts as, and what it reads
/// from the request before the client is known (so that the store answers
/// it in the same round trip as the rate count).
pub trait Metered: 'static {
    const ENDPOINT: Endpoint;
    /// Refuse public clients (introspection).
    const CONFIDENTIAL_ONLY: bool = false;
    type Pre;
    fn pre(t: &Tessera, params: Params) -> Result<Self::Pre, Error>;
    fn params(pre: &Self::Pre) -> &Params;
    fn ask(pre: &Self::Pre) -> Ask<'_>;
}

/// A metered endpoint that needs nothing from the request before the client
/// is known: its form's parameters are all there is.
#[macro_export]
macro_rules! plain_metered {
    ($name:ident, $endpoint:expr) => {
        pub struct $name;

        impl $crate::http::extract::Metered for $name {
            const ENDPOINT: $crate::rate_limit::Endpoint = $endpoint;
            type Pre = $crate::oauth::params::Params;
            fn pre(_: &$crate::app::Tessera, params: Self::Pre) -> Result<Self::Pre, $crate::error::Error> {
                Ok(params)
            }
            fn params(pre: &Self::Pre) -> &$crate::oauth::params::Params {
                pre
            }
            fn ask(_: &Self::Pre) -> $crate::oauth::gate::Ask<'_> {
                $crate::oauth::gate::Ask::default()
            }
        }
    };
}

/// A request of an authenticated client that passed its rate limit.
pub struct MeteredClient<M: Metered> {
    pub pre: M::Pre,
    pub client: Arc<Client>,
    pub rate: Option<Decision>,
    pub answer: RoundAnswer,
}

impl<M: Metered> MeteredClient<M> {
    pub fn params(&self) -> &Params {
        M::params(&self.pre)
    }

    /// An error after the rate decision: it reports the rate headers too.
    pub fn fail(&self, e: Error) -> OAuthError {
        OAuthError::from(e).with_rate(self.rate)
    }

    /// A 200 with `Cache-Control: no-store` and the rate headers.
    pub fn ok(&self) -> HttpResponseBuilder {
        ok_no_store(&self.rate)
    }
}

impl<M: Metered> FromRequest for MeteredClient<M> {
    type Error = OAuthError;
    type Future = LocalBoxFuture<'static, Result<Self, OAuthError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let t = tessera(&req)?;
            let params = read_form(&req, payload, t.cfg.max_body_bytes).await?;
            let pre = M::pre(&t, params)?;
            let presented = client_auth::require(authorization(&req), M::params(&pre))?;
            let passed = t.gate.admit(&presented, M::ENDPOINT, M::ask(&pre), M::CONFIDENTIAL_ONLY).await?;
            Ok(MeteredClient { pre, client: passed.client, rate: passed.rate, answer: passed.answer })
        })
    }
}

// ---- bearer tokens ----

/// One of Tessera's own protected resources.
pub trait Protected: 'static {
    const RESOURCE: Resource;
    /// Whether a form body may carry the token (RFC 6750 §2.2; not for JSON APIs).
    const FORM_BODY: bool;
}

/// A bearer token that passed every check for resource `P`.
pub struct BearerToken<P: Protected>(pub Bearer, PhantomData<P>);

/// The `WWW-Authenticate` challenge of an RFC 6750 error (§3), with the JSON body.
pub fn bearer_error(e: Error, scope: &str) -> OAuthError {
    challenge(e, scope, false)
}

/// The challenge of a resource's error: `Bearer` (RFC 6750 §3), or `DPoP`
/// (RFC 9449 §7.1) when the token came with DPoP or must come with it.
/// Errors of a resource are 401s, proof errors included.
pub fn challenge(e: Error, scope: &str, dpop: bool) -> OAuthError {
    let dpop = dpop || matches!(e, Error::InvalidToken(m) if m == bearer::BOUND_AS_BEARER);
    let code = match &e {
        Error::InvalidRequest(_) => "invalid_request",
        Error::InvalidToken(_) => "invalid_token",
        Error::InsufficientScope(_) => "insufficient_scope",
        Error::InvalidDpopProof(_) => "invalid_dpop_proof",
        Error::UseDpopNonce => "use_dpop_nonce",
        _ => return e.into(),
    };
    let desc = e.to_string();
    let mut err = OAuthError::from(e);
    if matches!(code, "invalid_dpop_proof" | "use_dpop_nonce") {
        err.status = StatusCode::UNAUTHORIZED;
    }
    let scheme = if dpop { format!("DPoP algs=\"{}\",", crate::oauth::dpop::ALGS.join(" ")) } else { "Bearer".to_string() };
    let mut challenge = format!("{scheme} realm=\"tessera\", error=\"{code}\", error_description=\"{}\"", desc.replace('"', "'"));
    if code == "insufficient_scope" {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    err.www_authenticate = Some(challenge);
    err
}

/// The token of a request and whether it came as `DPoP`: `Authorization:
/// Bearer` or `DPoP`, or a form body's `access_token` where allowed; never
/// in the URL, never twice.
async fn presented_token<P: Protected>(req: &HttpRequest, payload: Payload, limit: usize) -> Result<Option<(String, bool)>, Error> {
    if req.query_string().contains("access_token") {
        return Err(Error::invalid_request("send the token in the Authorization header, not the URL"));
    }
    let from_header = match authorization(req) {
        None if req.headers().contains_key(header::AUTHORIZATION) => return Err(Error::invalid_request("malformed Authorization header")),
        None => None,
        Some(h) => match h.split_once(' ') {
            Some((scheme, tok)) if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() => Some((tok.trim().to_string(), false)),
            Some((scheme, tok)) if scheme.eq_ignore_ascii_case("dpop") && !tok.trim().is_empty() => Some((tok.trim().to_string(), true)),
            _ => return Err(Error::invalid_request("use Authorization: Bearer <token> (or DPoP <token> with a proof)")),
        },
    };
    let from_body = match P::FORM_BODY && req.method() == Method::POST && req.headers().contains_key(header::CONTENT_TYPE) {
        true => read_form(req, payload, limit).await.map_err(|_| Error::invalid_request("malformed body"))?.get("access_token").map(|t| (t.to_string(), false)),
        false => None,
    };
    if from_header.is_some() && from_body.is_some() {
        return Err(Error::invalid_request("send the token once"));
    }
    Ok(from_header.or(from_body))
}

impl<P: Protected> FromRequest for BearerToken<P> {
    type Error = OAuthError;
    type Future = LocalBoxFuture<'static, Result<Self, OAuthError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Only a resource that takes the token from a form reads the body;
        // the others leave it to their handler (the admin API's JSON).
        let payload = if P::FORM_BODY { payload.take() } else { Payload::None };
        let req = req.clone();
        Box::pin(async move {
            let t = tessera(&req)?;
            let scope = P::RESOURCE.scope();
            let token = presented_token::<P>(&req, payload, t.cfg.max_body_bytes).await.map_err(|e| bearer_error(e, scope))?;
            let Some((token, as_dpop)) = token else {
                // RFC 6750 §3.1: no credentials, no error code in the challenge.
                let mut e = OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", "a bearer token is required");
                e.www_authenticate = Some("Bearer realm=\"tessera\"".into());
                return Err(e);
            };
            let nonce = super::dpop::nonce(&t, &req);
            let fail = |e| super::dpop::with_nonce(challenge(e, scope, as_dpop), &nonce);
            let jkt = match as_dpop {
                true => match super::dpop::proof(&t, &req, req.path(), Some(&token)).await.map_err(fail)? {
                    Some(p) => Some(p.jkt),
                    None => return Err(fail(Error::InvalidDpopProof("Authorization: DPoP needs a DPoP proof header".into()))),
                },
                false => None,
            };
            let b = bearer::check(&t.gate, &t.issuer, &t.db, &token, jkt.as_deref(), P::RESOURCE).await.map_err(fail)?;
            Ok(BearerToken(b, PhantomData))
        })
    }
}

// ---- pages ----

/// Why a page request is refused: sign in first, or a page saying why.
#[derive(Debug)]
pub enum PageRefusal {
    /// Not signed in: to the login page (302 after a GET, 303 after a POST).
    SignIn(StatusCode),
    /// A JSON API of a signed-in user, without one.
    SignInJson,
    Page { status: StatusCode, title: &'static str, message: String },
    /// The signed-in user could not be read (the database is down): 503.
    Unavailable { json: bool },
}

impl std::fmt::Display for PageRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageRefusal::SignIn(_) | PageRefusal::SignInJson => f.write_str("sign in first"),
            PageRefusal::Page { message, .. } => f.write_str(message),
            PageRefusal::Unavailable { .. } => f.write_str("the service is unavailable"),
        }
    }
}

impl ResponseError for PageRefusal {
    fn status_code(&self) -> StatusCode {
        match self {
            PageRefusal::SignIn(s) => *s,
            PageRefusal::SignInJson => StatusCode::UNAUTHORIZED,
            PageRefusal::Page { status, .. } => *status,
            PageRefusal::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageRefusal::SignIn(s) => redirect(*s, "/login"),
            PageRefusal::SignInJson => HttpResponse::Unauthorized()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({"error": "login_required", "error_description": "sign in first"})),
            PageRefusal::Page { status, title, message } => error_page(*status, title, message),
            PageRefusal::Unavailable { json: false } => error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "The service is unavailable."),
            PageRefusal::Unavailable { json: true } => HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({"error": "temporarily_unavailable", "error_description": "the service is unavailable"})),
        }
    }
}

/// Who may see a page.
pub trait Role: 'static {
    fn allows(u: &User) -> bool;
    /// What the page is, for the refusal ("Your account cannot use …").
    const WHAT: &'static str;
    /// A JSON API: refuse with 401 JSON instead of a redirect.
    const JSON: bool = false;
}

/// Any signed-in user: the account pages.
pub struct AnyUser;
/// The account's JSON API.
pub struct AccountApi;
/// Developers (and admins): the developer portal.
pub struct Developer;
/// Admins: the admin console.
pub struct Admin;

impl Role for AnyUser {
    fn allows(_: &User) -> bool {
        true
    }
    const WHAT: &'static str = "your account";
}
impl Role for AccountApi {
    fn allows(_: &User) -> bool {
        true
    }
    const WHAT: &'static str = "your account";
    const JSON: bool = true;
}
impl Role for Developer {
    fn allows(u: &User) -> bool {
        u.is_developer()
    }
    const WHAT: &'static str = "the developer portal";
}
impl Role for Admin {
    fn allows(u: &User) -> bool {
        u.is_admin()
    }
    const WHAT: &'static str = "the admin console";
}

/// The signed-in user of a page, allowed by role `R`, and their session.
pub struct PageUser<R: Role> {
    pub session: Session,
    pub user: User,
    _role: PhantomData<R>,
}

impl<R: Role> FromRequest for PageUser<R> {
    type Error = PageRefusal;
    type Future = LocalBoxFuture<'static, Result<Self, PageRefusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let t = tessera(&req).map_err(|e| PageRefusal::Page { status: StatusCode::INTERNAL_SERVER_ERROR, title: "Error", message: e.to_string() })?;
            let session = session(&t, &req).await;
            let found = current_user(&t, &session).await.map_err(|_| PageRefusal::Unavailable { json: R::JSON })?;
            let Some(user) = found else {
                let safe = matches!(*req.method(), Method::GET | Method::HEAD);
                return Err(match (R::JSON, safe) {
                    (true, _) => PageRefusal::SignInJson,
                    (false, true) => PageRefusal::SignIn(StatusCode::FOUND),
                    (false, false) => PageRefusal::SignIn(StatusCode::SEE_OTHER),
                });
            };
            if !R::allows(&user) {
                let message = format!("Your account cannot use {}.", R::WHAT);
                return Err(PageRefusal::Page { status: StatusCode::FORBIDDEN, title: "Not allowed", message });
            }
            Ok(PageUser { session, user, _role: PhantomData })
        })
    }
}

/// A posted page form (repeated fields and line breaks allowed) whose
/// `csrf` field matches the session's token, in constant time.
pub struct CsrfForm {
    pub session: Session,
    pairs: Vec<(String, String)>,
}

impl CsrfForm {
    /// The first value of a field, or "".
    pub fn get(&self, name: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// Every value of a repeated field (checkbox lists).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// The field's value if the form has the field at all (to change only what a form shows).
    pub fn field(&self, name: &str) -> Option<String> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

impl FromRequest for CsrfForm {
    type Error = PageRefusal;
    type Future = LocalBoxFuture<'static, Result<Self, PageRefusal>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let t = tessera(&req).map_err(|e| PageRefusal::Page { status: StatusCode::INTERNAL_SERVER_ERROR, title: "Error", message: e.to_string() })?;
            let session = session(&t, &req).await;
            let pairs = read_pairs(&req, payload, t.cfg.max_body_bytes)
                .await
                .map_err(|e| PageRefusal::Page { status: e.status, title: "Invalid request", message: e.description })?;
            let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
            if !session.csrf_ok(csrf) {
                let message = "The form was stale or forged. Go back, reload and try again.".to_string();
                return Err(PageRefusal::Page { status: StatusCode::FORBIDDEN, title: "Session expired", message });
            }
            Ok(CsrfForm { session, pairs })
        })
    }
}
