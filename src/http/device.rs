//! The device authorization grant's two edges (RFC 8628): the device's
//! `POST /device_authorization`, and the person's `/device` page where a
//! code is entered, the app and its scopes are shown on the consent
//! screen, and the request is allowed or denied. The rules are
//! `oauth::device`'s; the device's polls are a grant of `/token`.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::authorize::{described, login_page, with_session, Continue};
use super::error::OAuthError;
use super::extract::{client_ip, CsrfForm, MeteredClient};
use super::pages::{current_user, error_page, render, session, unavailable};
use crate::app::Tessera;
use crate::oauth::device::{self, Approval, Pending};
use crate::oauth::params::Params;
use crate::oauth::throttle;
use crate::rate_limit::Endpoint;
use crate::registry::users::User;
use crate::session::Session;

crate::plain_metered!(DeviceAuth, Endpoint::Device);

/// `POST /device_authorization`: a device asks for its codes.
pub async fn start(t: web::Data<Tessera>, m: MeteredClient<DeviceAuth>) -> Result<HttpResponse, OAuthError> {
    let ttl = t.cfg.device_code_ttl.as_secs() as i64;
    let started = device::start(t.store.as_ref(), &m.client, m.params(), t.cfg.base(), ttl, crate::db::now()).await.map_err(|e| m.fail(e))?;
    Ok(m.ok().json(started))
}

/// The code-entry page (a typed or pre-filled code is only shown, not yet looked up).
fn enter_page(s: &Session, user: &User, typed: &str, error: Option<&str>, status: StatusCode) -> HttpResponse {
    let shown = device::normalize(typed).map(|c| device::display(&c)).unwrap_or_else(|| typed.chars().take(20).collect());
    render(status, "device.html", json!({"csrf": s.csrf, "user_code": shown, "username": user.username, "error": error}))
}

/// Sign in first, then come back to the code (pre-filled).
fn sign_in_first(t: &Tessera, s: &Session, typed: &str) -> HttpResponse {
    let next = format!("/device?user_code={}", url::form_urlencoded::byte_serialize(typed.as_bytes()).collect::<String>());
    login_page(t, s, None, Continue { authz: "", next: &next }, None, "", StatusCode::OK)
}

/// `GET /device[?user_code=…]` (the `verification_uri`, and `_complete` with the code).
pub async fn page(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let s = session(&t, &req).await;
    let params = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let typed = params.get("user_code").unwrap_or("");
    let resp = match current_user(&t, &s).await {
        Ok(Some(u)) => enter_page(&s, &u, typed, None, StatusCode::OK),
        Ok(None) => sign_in_first(&t, &s, typed),
        Err(page) => page,
    };
    with_session(resp, &t, &s)
}

/// The pending request a posted code stands for, each wrong code counted
/// against the session and the address; `Err`: the page to show instead.
async fn looked_up(t: &Tessera, req: &HttpRequest, s: &Session, user: &User, typed: &str) -> Result<Pending, HttpResponse> {
    let session_key = s.store_key().unwrap_or_default();
    let keys = device::guess_keys(&session_key, client_ip(req, &t.cfg.trusted_proxies).as_deref());
    let now_ms = chrono::Utc::now().timestamp_millis();
    let store = t.store.as_ref();
    let fail = |e| unavailable(e, "looking up a device code", "The service is unavailable.");
    if let Some(retry) = throttle::spend(store, &keys, now_ms).await.map_err(fail)? {
        let msg = format!("Too many wrong codes. Wait {retry} seconds and try again.");
        let mut page = enter_page(s, user, typed, Some(&msg), StatusCode::TOO_MANY_REQUESTS);
        if let Ok(v) = header::HeaderValue::from_str(&retry.to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(page);
    }
    let Some(pending) = device::find(store, typed, crate::db::now()).await.map_err(fail)? else {
        let msg = "That code is not valid, or it has expired or been used. Check the code your device shows.";
        return Err(enter_page(s, user, typed, Some(msg), StatusCode::BAD_REQUEST));
    };
    throttle::refund(store, &keys, now_ms).await.map_err(fail)?;
    Ok(pending)
}

/// The consent screen for a device's request.
async fn consent_page(t: &Tessera, s: &Session, user: &User, p: &Pending, client: &crate::registry::clients::Client) -> HttpResponse {
    let scopes = described(t, &p.request.scopes).await;
    render(
        StatusCode::OK,
        "consent.html",
        json!({
            "csrf": s.csrf, "action": "/device", "user_code": device::display(&p.record.user_code), "user": user,
            "client_name": client.name, "client_description": client.description, "scopes": scopes,
        }),
    )
}

/// Record the decision; the page saying what happened.
async fn decided(t: &Tessera, req: &HttpRequest, s: &Session, user: &User, p: &Pending, client_name: &str, allow: bool) -> HttpResponse {
    let fail = |e| unavailable(e, "deciding a device request", "Nothing was decided. Try again.");
    let approval = match allow {
        true => {
            let ip = client_ip(req, &t.cfg.trusted_proxies);
            let grant = match crate::registry::consents::consent(&t.db, t.store.as_ref(), &user.user_id, &p.record.client_id, &p.request.scopes, ip.as_deref()).await {
                Ok(g) => g,
                Err(e) => return fail(e),
            };
            let auth_time = s.auth_time.unwrap_or_else(crate::db::now);
            Some(Approval { user_id: user.user_id.clone(), scopes: p.request.scopes.clone(), grant_id: grant.grant_id, auth_time })
        }
        false => None,
    };
    match device::decide(t.store.as_ref(), p, approval.as_ref(), crate::db::now()).await {
        Ok(true) => render(StatusCode::OK, "device.html", json!({"done": if allow { "allowed" } else { "denied" }, "client_name": client_name})),
        Ok(false) => error_page(StatusCode::CONFLICT, "Already decided", "This code was decided already or has expired. Start again on your device."),
        Err(e) => fail(e),
    }
}

/// `POST /device`: look up the code (no `decision` yet: show the consent
/// screen), or record the decision on it.
pub async fn submit(t: web::Data<Tessera>, req: HttpRequest, f: CsrfForm) -> HttpResponse {
    let typed = f.get("user_code");
    let user = match current_user(&t, &f.session).await {
        Ok(Some(u)) => u,
        Ok(None) => return with_session(sign_in_first(&t, &f.session, typed), &t, &f.session),
        Err(page) => return page,
    };
    let pending = match looked_up(&t, &req, &f.session, &user, typed).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let client = match crate::registry::clients::find(&t.db, &pending.record.client_id).await {
        Ok(Some(c)) if c.is_active() => c,
        Ok(_) => return error_page(StatusCode::BAD_REQUEST, "This request cannot be completed", "This application is suspended or no longer registered."),
        Err(e) => return unavailable(e, "client lookup", "The service is unavailable."),
    };
    match f.get("decision") {
        "" => consent_page(&t, &f.session, &user, &pending, &client).await,
        d => decided(&t, &req, &f.session, &user, &pending, &client.name, d == "allow").await,
    }
}
