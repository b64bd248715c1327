//! `GET /authorize`, the login and consent pages, and logout. The rules are
//! in `oauth::authorize`; this file turns their answers into pages and
//! redirects.
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{client_ip, CsrfForm};
use super::pages::{self, begin_session, current_user, error_page, redirect, render, session, session_cookie, unavailable};
use crate::app::Tessera;
use crate::oauth::authorize::{self, AuthorizeRequest, Refusal, Step};
use crate::oauth::par;
use crate::oauth::params::Params;
use crate::registry::clients::Client;
use crate::registry::users::{self, Login, User};
use crate::session::Session;

/// Validate the authorization request in `query`; `Err` is the response to send.
async fn validated(t: &Tessera, query: &str) -> Result<AuthorizeRequest, HttpResponse> {
    let params = Params::parse(query.as_bytes()).map_err(|e| error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string()))?;
    let client = client_of(t, &params).await?;
    checked(t, &params, client)
}

/// The client `params` names, from the gate's cache.
async fn client_of(t: &Tessera, params: &Params) -> Result<Option<Arc<Client>>, HttpResponse> {
    match params.get("client_id") {
        Some(id) => t.gate.client(id).await.map_err(|e| unavailable(e, "client lookup", "The service is unavailable.")),
        None => Ok(None),
    }
}

/// The rules of `oauth::authorize` on a parsed request and its client, as a page or a redirect.
fn checked(t: &Tessera, params: &Params, client: Option<Arc<Client>>) -> Result<AuthorizeRequest, HttpResponse> {
    authorize::validate(client.map(Arc::unwrap_or_clone), params).map_err(|r| match r {
        Refusal::Page(msg) => error_page(StatusCode::BAD_REQUEST, "This request cannot be completed", &msg),
        Refusal::Redirect { redirect_uri, state, error, description } => redirect(
            StatusCode::FOUND,
            &authorize::redirect(
                &redirect_uri,
                &[("error", error), ("error_description", &description)],
                state.as_deref(),
                &t.cfg.issuer,
            ),
        ),
    })
}

/// Carry a validated request to its next step. `status` is 302 after a GET, 303 after a POST.
async fn proceed(t: &Tessera, req: &HttpRequest, s: &Session, query: &str, fresh: bool, status: StatusCode) -> HttpResponse {
    match validated(t, query).await {
        Ok(areq) => proceed_with(t, req, s, query, areq, fresh, status).await,
        Err(resp) => resp,
    }
}

/// [`proceed`] with the request already validated.
async fn proceed_with(t: &Tessera, req: &HttpRequest, s: &Session, query: &str, areq: AuthorizeRequest, fresh: bool, status: StatusCode) -> HttpResponse {
    // The signed-in user and their consent to this client, in one query.
    // A store that cannot answer is a 503 page, not a login page.
    let found = match s.uid.as_deref() {
        Some(uid) => match users::with_consent(&t.db, uid, &areq.client.client_id).await {
            Ok(found) => found,
            Err(e) => return unavailable(e, "reading the signed-in user", "The service is unavailable."),
        },
        None => None,
    };
    let (user, granted) = match found {
        Some((u, grant)) if !u.disabled => (Some(u), grant.map(|g| g.scopes)),
        _ => (None, None),
    };
    let who = user.as_ref().zip(s.auth_time).map(|(u, at)| (u.user_id.as_str(), at));
    match authorize::next_step(&areq, who, fresh, granted.as_deref(), crate::db::now()) {
        Step::Login => login_page(t, s, Some(&areq.client.name), Continue::authz(query), None, "", StatusCode::OK),
        Step::Consent => consent_page(t, s, &areq, query, user.as_ref()).await,
        Step::Fail(error) => redirect(
            status,
            &authorize::redirect(&areq.redirect_uri, &[("error", error)], areq.state.as_deref(), &t.cfg.issuer),
        ),
        Step::Issue { user_id, auth_time } => code_redirect(t, req, s, &areq, &user_id, auth_time, status).await,
    }
}

/// Issue a code and redirect with it, or with `temporarily_unavailable`.
async fn code_redirect(t: &Tessera, req: &HttpRequest, s: &Session, areq: &AuthorizeRequest, user_id: &str, auth_time: i64, status: StatusCode) -> HttpResponse {
    let code_ttl = t.cfg.code_ttl.as_secs() as i64;
    let key = s.store_key();
    let session = key.as_deref().map(|k| (k, s.exp));
    match authorize::issue_code(t.store.as_ref(), &t.cfg.issuer, code_ttl, areq, user_id, auth_time, session).await {
        Ok(url) => {
            log::info!("code issued to client {} for user {user_id} from {:?}", areq.client.client_id, client_ip(req, &t.cfg.trusted_proxies));
            redirect(status, &url)
        }
        Err(e) => {
            log::error!("issuing a code: {e}");
            let back = [("error", "temporarily_unavailable")];
            redirect(status, &authorize::redirect(&areq.redirect_uri, &back, areq.state.as_deref(), &t.cfg.issuer))
        }
    }
}

pub fn with_session(mut resp: HttpResponse, t: &Tessera, s: &Session) -> HttpResponse {
    if let Err(e) = resp.add_cookie(&session_cookie(t, s)) {
        log::error!("setting the session cookie: {e}");
    }
    resp
}

/// Where a login continues: an authorization request, or a page of ours.
#[derive(Clone, Copy, Default)]
pub struct Continue<'a> {
    pub authz: &'a str,
    /// A local path (`/device?user_code=…`), see [`local_path`].
    pub next: &'a str,
}

impl<'a> Continue<'a> {
    pub fn authz(authz: &'a str) -> Self {
        Continue { authz, next: "" }
    }
}

/// `next` if it is a path on this server (never another host: no `//`, no
/// backslash, no scheme), else `None`.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && !next.chars().any(char::is_control);
    ok.then_some(next)
}

pub fn login_page(
    t: &Tessera,
    s: &Session,
    client_name: Option<&str>,
    cont: Continue,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> HttpResponse {
    let next = local_path(cont.next);
    let resp = render(
        status,
        "login.html",
        json!({
            "csrf": s.csrf, "authz": cont.authz, "next": next, "client_name": client_name, "error": error, "username": username,
            "signup": t.cfg.developer_signup != crate::config::SignupMode::Closed && cont.authz.is_empty(),
        }),
    );
    with_session(resp, t, s)
}

/// The scopes with the descriptions users read on a consent screen.
pub async fn described(t: &Tessera, names: &[String]) -> Vec<serde_json::Value> {
    let catalogue = crate::registry::catalogue::list(&t.db).await.unwrap_or_default();
    names
        .iter()
        .map(|name| {
            let description = catalogue.iter().find(|c| &c.name == name).map(|c| c.description.clone()).unwrap_or_default();
            json!({"name": name, "description": description})
        })
        .collect()
}

async fn consent_page(t: &Tessera, s: &Session, areq: &AuthorizeRequest, authz: &str, user: Option<&User>) -> HttpResponse {
    let scopes = described(t, &areq.scopes).await;
    // Where the user is sent back: a web app's host, or a native app's own scheme.
    let redirect_host = url::Url::parse(&areq.redirect_uri)
        .map(|u| u.host_str().map(str::to_string).unwrap_or_else(|| format!("{}:", u.scheme())))
        .unwrap_or_default();
    let resp = render(
        StatusCode::OK,
        "consent.html",
        json!({
            "csrf": s.csrf, "authz": authz, "user": user, "client_name": areq.client.name,
            "client_description": areq.client.description, "scopes": scopes, "redirect_host": redirect_host,
        }),
    );
    with_session(resp, t, s)
}

pub async fn authorize(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    // The session and the request (its client) are read side by side: two
    // store reads that do not wait for each other.
    let (s, request) = futures_util::future::join(session(&t, &req), request(&t, req.query_string())).await;
    let resp = match request {
        Ok((query, areq)) => proceed_with(&t, &req, &s, &query, areq, false, StatusCode::FOUND).await,
        Err(page) => page,
    };
    with_session(resp, &t, &s)
}

/// The validated authorization request a query stands for, and its query
/// (where a login continues): with a `request_uri`, the pushed parameters
/// (RFC 9126), taken once; without one, the query itself, unless its client
/// must push its requests. The client is read once for both checks.
/// `Err`: the response to send.
async fn request(t: &Tessera, query: &str) -> Result<(String, AuthorizeRequest), HttpResponse> {
    let refuse = |m: &str| error_page(StatusCode::BAD_REQUEST, "This request cannot be completed", m);
    let params = Params::parse(query.as_bytes()).map_err(|e| refuse(&e.to_string()))?;
    let client = client_of(t, &params).await?;
    let Some(uri) = params.get("request_uri") else {
        if client.as_deref().is_some_and(|c| par::required(t.cfg.require_par, c)) {
            return Err(refuse("This application must push its authorization request first (PAR, RFC 9126)."));
        }
        return Ok((query.to_string(), checked(t, &params, client)?));
    };
    let client_id = params.get("client_id").unwrap_or("");
    match par::take(t.store.as_ref(), client_id, uri, crate::db::now()).await {
        Ok(pushed) => Ok((pushed.to_query(), checked(t, &pushed, client)?)),
        Err(par::Unusable::Store(e)) => Err(unavailable(crate::error::Error::Config(e), "reading a pushed request", "The service is unavailable.")),
        Err(_) => Err(refuse("The request_uri is unknown, used or expired. Start again from the application.")),
    }
}

/// `GET /login`: sign in without an app (to manage connected apps).
pub async fn login_form(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let s = session(&t, &req).await;
    login_page(&t, &s, None, Continue::default(), None, "", StatusCode::OK)
}

pub async fn login(t: web::Data<Tessera>, req: HttpRequest, f: CsrfForm) -> HttpResponse {
    let authz = f.get("authz");
    let cont = Continue { authz, next: f.get("next") };
    let username = f.get("username").trim().to_lowercase();
    let ip = client_ip(&req, &t.cfg.trusted_proxies);
    let outcome = match users::authenticate(&t.db, t.store.as_ref(), &username, f.get("password"), ip.as_deref()).await {
        Ok(o) => o,
        Err(e) => return unavailable(e, "login", "The service is unavailable."),
    };
    match outcome {
        Login::Ok(user) => {
            let fresh = Session::logged_in(&user.user_id, crate::db::now());
            if let Err(e) = begin_session(&t, &fresh).await {
                return unavailable(e, "starting a session", "The service is unavailable.");
            }
            let resp = match (authz.is_empty(), local_path(cont.next)) {
                (false, _) => proceed(&t, &req, &fresh, authz, true, StatusCode::SEE_OTHER).await,
                (true, Some(next)) => redirect(StatusCode::SEE_OTHER, next),
                (true, None) => redirect(StatusCode::SEE_OTHER, "/account"),
            };
            with_session(resp, &t, &fresh)
        }
        Login::Invalid => {
            let client_name = client_name_of(&t, authz).await;
            let error = Some("Invalid username or password.");
            login_page(&t, &f.session, client_name.as_deref(), cont, error, &username, StatusCode::UNAUTHORIZED)
        }
        Login::Disabled => login_page(&t, &f.session, None, cont, Some("This account is disabled."), &username, StatusCode::FORBIDDEN),
        Login::Throttled { retry_after_secs } => {
            let msg = format!("Too many failed attempts. Wait {} minute(s) and try again.", (retry_after_secs + 59) / 60);
            let mut resp = login_page(&t, &f.session, None, cont, Some(&msg), &username, StatusCode::TOO_MANY_REQUESTS);
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// The name of the app an authorization request names, for the login page.
async fn client_name_of(t: &Tessera, authz: &str) -> Option<String> {
    let params = Params::parse(authz.as_bytes()).ok()?;
    client_of(t, &params).await.ok().flatten().map(|c| c.name.clone())
}

pub async fn consent(t: web::Data<Tessera>, req: HttpRequest, f: CsrfForm) -> HttpResponse {
    let user = match current_user(&t, &f.session).await {
        Ok(Some(u)) => u,
        Ok(None) => return error_page(StatusCode::UNAUTHORIZED, "Signed out", "Sign in again to continue."),
        Err(page) => return page,
    };
    let areq = match validated(&t, f.get("authz")).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let deny = |error: &str| {
        let back = [("error", error)];
        redirect(StatusCode::SEE_OTHER, &authorize::redirect(&areq.redirect_uri, &back, areq.state.as_deref(), &t.cfg.issuer))
    };
    if f.get("decision") != "allow" {
        return deny("access_denied");
    }
    let ip = client_ip(&req, &t.cfg.trusted_proxies);
    if let Err(e) = crate::registry::consents::consent(&t.db, t.store.as_ref(), &user.user_id, &areq.client.client_id, &areq.scopes, ip.as_deref()).await {
        log::error!("recording consent: {e}");
        return deny("temporarily_unavailable");
    }
    let auth_time = f.session.auth_time.unwrap_or_else(crate::db::now);
    code_redirect(&t, &req, &f.session, &areq, &user.user_id, auth_time, StatusCode::SEE_OTHER).await
}

pub use pages::stylesheet;
