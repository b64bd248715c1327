//! `GET,POST /signup`: people create a developer account
//! (`TESSERA_DEVELOPER_SIGNUP`); the rules are `registry::users::sign_up`'s.
//! A new account is signed in at once: a developer lands in the portal, a
//! request waiting for an admin on the account page that says so.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::authorize::with_session;
use super::extract::{client_ip, CsrfForm};
use super::pages::{begin_session, error_page, redirect, render, session, unavailable};
use crate::app::Tessera;
use crate::config::SignupMode;
use crate::error::Error;
use crate::registry::users;
use crate::session::Session;

/// Sign-ups one address may make per minute.
pub const SIGNUPS_PER_MIN_ADDRESS: i64 = 5;

fn form_page(t: &Tessera, s: &Session, username: &str, email: &str, error: Option<&str>, status: StatusCode) -> HttpResponse {
    let approval = t.cfg.developer_signup == SignupMode::Approval;
    render(status, "signup.html", json!({"csrf": s.csrf, "username": username, "email": email, "error": error, "approval": approval}))
}

fn closed() -> HttpResponse {
    error_page(StatusCode::NOT_FOUND, "No sign-up here", "Developer accounts are created by an admin on this server.")
}

pub async fn page(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    if t.cfg.developer_signup == SignupMode::Closed {
        return closed();
    }
    let s = session(&t, &req).await;
    with_session(form_page(&t, &s, "", "", None, StatusCode::OK), &t, &s)
}

pub async fn submit(t: web::Data<Tessera>, req: HttpRequest, f: CsrfForm) -> HttpResponse {
    if t.cfg.developer_signup == SignupMode::Closed {
        return closed();
    }
    let (username, email) = (f.get("username").trim().to_lowercase(), f.get("email").trim().to_string());
    let ip = client_ip(&req, &t.cfg.trusted_proxies);
    let keys: Vec<(String, i64)> = ip.iter().map(|a| (format!("signup-ip:{a}"), SIGNUPS_PER_MIN_ADDRESS)).collect();
    let again = |msg: &str, status| form_page(&t, &f.session, &username, &email, Some(msg), status);
    match crate::oauth::throttle::spend(t.store.as_ref(), &keys, chrono::Utc::now().timestamp_millis()).await {
        Ok(None) => {}
        Ok(Some(secs)) => return again(&format!("Too many new accounts from your address. Try again in {secs} seconds."), StatusCode::TOO_MANY_REQUESTS),
        Err(e) => return unavailable(e, "sign-up throttle", "No account was created. Try again later."),
    }
    let user = match users::sign_up(&t.db, t.cfg.developer_signup, &username, &email, f.get("password"), ip.as_deref()).await {
        Ok(u) => u,
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => return again(&e.to_string(), StatusCode::BAD_REQUEST),
        Err(e) => return unavailable(e, "sign-up", "No account was created. Try again later."),
    };
    let fresh = Session::logged_in(&user.user_id, crate::db::now());
    if let Err(e) = begin_session(&t, &fresh).await {
        return unavailable(e, "starting a session", "Your account was created: sign in.");
    }
    let next = if user.is_developer() { "/portal" } else { "/account" };
    with_session(redirect(StatusCode::SEE_OTHER, next), &t, &fresh)
}
