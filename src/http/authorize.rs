//! `GET /authorize`, the login and consent pages, and logout. The rules are
//! in `oauth::authorize`; this file turns their answers into pages and
//! redirects.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::form::read_form;
use super::pages::{self, current_user, error_page, redirect, render, session, session_cookie};
use crate::app::Tessera;
use crate::oauth::authorize::{self, AuthorizeRequest, Refusal, Step};
use crate::oauth::params::Params;
use crate::session::Session;

fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// Validate the authorization request in `query`; `Err` is the response to send.
async fn validated(t: &Tessera, query: &str) -> Result<AuthorizeRequest, HttpResponse> {
    let params = match Params::parse(query.as_bytes()) {
        Ok(p) => p,
        Err(e) => return Err(error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string())),
    };
    let client = match params.get("client_id") {
        Some(id) => match crate::clients::find(&t.db, id).await {
            Ok(c) => c,
            Err(e) => {
                log::error!("client lookup: {e}");
                return Err(error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "The service is unavailable."));
            }
        },
        None => None,
    };
    authorize::validate(client, &params).map_err(|r| match r {
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
    let areq = match validated(t, query).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let user = current_user(t, s).await;
    let who = user.as_ref().zip(s.auth_time).map(|(u, at)| (u.user_id.as_str(), at));
    let granted = match &user {
        Some(u) => crate::grants::find(&t.db, &u.user_id, &areq.client.client_id).await.ok().flatten().map(|g| g.scopes),
        None => None,
    };
    match authorize::next_step(&areq, who, fresh, granted.as_deref(), crate::db::now()) {
        Step::Login => login_page(t, s, Some(&areq.client.name), query, None, "", StatusCode::OK),
        Step::Consent => consent_page(t, s, &areq, query, user.as_ref()).await,
        Step::Fail(error) => redirect(
            status,
            &authorize::redirect(&areq.redirect_uri, &[("error", error)], areq.state.as_deref(), &t.cfg.issuer),
        ),
        Step::Issue { user_id, auth_time } => match authorize::issue_code(t, &areq, &user_id, auth_time).await {
            Ok(url) => {
                log::info!("code issued to client {} for user {user_id} from {:?}", areq.client.client_id, client_ip(req));
                redirect(status, &url)
            }
            Err(e) => {
                log::error!("issuing a code: {e}");
                redirect(
                    status,
                    &authorize::redirect(
                        &areq.redirect_uri,
                        &[("error", "temporarily_unavailable")],
                        areq.state.as_deref(),
                        &t.cfg.issuer,
                    ),
                )
            }
        },
    }
}

/// Read a posted form and check its CSRF token against the session's.
async fn checked_form(t: &Tessera, req: &HttpRequest, s: &Session, body: web::Payload) -> Result<Params, HttpResponse> {
    let form = read_form(req, body, t.cfg.max_body_bytes)
        .await
        .map_err(|e| error_page(e.status, "Invalid request", &e.description))?;
    if !s.csrf_ok(form.get("csrf")) {
        return Err(error_page(StatusCode::FORBIDDEN, "Session expired", "The form was stale or forged. Go back and try again."));
    }
    Ok(form)
}

fn with_session(mut resp: HttpResponse, t: &Tessera, s: &Session) -> HttpResponse {
    if let Err(e) = resp.add_cookie(&session_cookie(t, s)) {
        log::error!("setting the session cookie: {e}");
    }
    resp
}

fn login_page(
    t: &Tessera,
    s: &Session,
    client_name: Option<&str>,
    authz: &str,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> HttpResponse {
    let resp = render(
        status,
        "login.html",
        json!({"csrf": s.csrf, "authz": authz, "client_name": client_name, "error": error, "username": username}),
    );
    with_session(resp, t, s)
}

async fn consent_page(t: &Tessera, s: &Session, areq: &AuthorizeRequest, authz: &str, user: Option<&crate::users::User>) -> HttpResponse {
    let catalogue = crate::catalogue::list(&t.db).await.unwrap_or_default();
    let scopes: Vec<_> = areq
        .scopes
        .iter()
        .map(|name| {
            let description = catalogue.iter().find(|c| &c.name == name).map(|c| c.description.clone()).unwrap_or_default();
            json!({"name": name, "description": description})
        })
        .collect();
    let redirect_host = url::Url::parse(&areq.redirect_uri).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
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
    let s = session(&t, &req);
    let resp = proceed(&t, &req, &s, req.query_string(), false, StatusCode::FOUND).await;
    with_session(resp, &t, &s)
}

/// `GET /login`: sign in without an app (to manage connected apps).
pub async fn login_form(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let s = session(&t, &req);
    login_page(&t, &s, None, "", None, "", StatusCode::OK)
}

pub async fn login(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let s = session(&t, &req);
    let form = match checked_form(&t, &req, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let authz = form.get("authz").unwrap_or("");
    let username = form.get("username").unwrap_or("").trim().to_lowercase();
    let password = form.get("password").unwrap_or("");
    let ip = client_ip(&req);
    let outcome = match crate::users::authenticate(&t.db, t.store.as_ref(), &username, password, ip.as_deref()).await {
        Ok(u) => u,
        Err(e) => {
            log::error!("login: {e}");
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "The service is unavailable.");
        }
    };
    let user = match outcome {
        crate::users::Login::Ok(u) => Some(u),
        crate::users::Login::Invalid => None,
        crate::users::Login::Throttled { retry_after_secs } => {
            let minutes = (retry_after_secs + 59) / 60;
            let msg = format!("Too many failed attempts. Wait {minutes} minute(s) and try again.");
            let mut resp = login_page(&t, &s, None, authz, Some(&msg), &username, StatusCode::TOO_MANY_REQUESTS);
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
            }
            return resp;
        }
    };
    let Some(user) = user else {
        let client_name = match Params::parse(authz.as_bytes()).ok().and_then(|p| p.get("client_id").map(str::to_string)) {
            Some(id) => crate::clients::find(&t.db, &id).await.ok().flatten().map(|c| c.name),
            None => None,
        };
        return login_page(
            &t,
            &s,
            client_name.as_deref(),
            authz,
            Some("Invalid username or password."),
            &username,
            StatusCode::UNAUTHORIZED,
        );
    };
    let fresh = Session::logged_in(&user.user_id, crate::db::now());
    let resp = if authz.is_empty() {
        redirect(StatusCode::SEE_OTHER, "/account")
    } else {
        proceed(&t, &req, &fresh, authz, true, StatusCode::SEE_OTHER).await
    };
    with_session(resp, &t, &fresh)
}

pub async fn consent(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let s = session(&t, &req);
    let form = match checked_form(&t, &req, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(user) = current_user(&t, &s).await else {
        return error_page(StatusCode::UNAUTHORIZED, "Signed out", "Sign in again to continue.");
    };
    let authz = form.get("authz").unwrap_or("");
    let areq = match validated(&t, authz).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let deny = |error: &str| {
        redirect(
            StatusCode::SEE_OTHER,
            &authorize::redirect(&areq.redirect_uri, &[("error", error)], areq.state.as_deref(), &t.cfg.issuer),
        )
    };
    if form.get("decision") != Some("allow") {
        return deny("access_denied");
    }
    let ip = client_ip(&req);
    if let Err(e) = crate::grants::consent(&t.db, &user.user_id, &areq.client.client_id, &areq.scopes, ip.as_deref()).await {
        log::error!("recording consent: {e}");
        return deny("temporarily_unavailable");
    }
    let auth_time = s.auth_time.unwrap_or_else(crate::db::now);
    match authorize::issue_code(&t, &areq, &user.user_id, auth_time).await {
        Ok(url) => redirect(StatusCode::SEE_OTHER, &url),
        Err(e) => {
            log::error!("issuing a code: {e}");
            deny("temporarily_unavailable")
        }
    }
}

pub async fn logout(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let s = session(&t, &req);
    if let Err(r) = checked_form(&t, &req, &s, body).await {
        return r;
    }
    let fresh = Session::anonymous(crate::db::now());
    with_session(redirect(StatusCode::SEE_OTHER, "/login"), &t, &fresh)
}

pub use pages::stylesheet;
