//! `GET,POST /logout`: Tessera's own sign-out button, and the
//! `end_session_endpoint` of RP-Initiated Logout 1.0. The rules are
//! `oauth::logout`'s; the apps a session signed in to are told through the
//! back channel in the background.
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::authorize::with_session;
use super::form::read_pairs;
use super::pages::{end_session, error_page, redirect, render, session, unavailable};
use crate::app::Tessera;
use crate::oauth::logout;
use crate::oauth::params::Params;
use crate::session::Session;

/// The parameters of RP-initiated logout that a confirmation carries on.
const RP_PARAMS: [&str; 4] = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"];

/// What an RP-initiated request asks: the app, where to return, the hint.
#[derive(Default)]
struct Target {
    client_name: Option<String>,
    redirect: Option<String>,
    /// A `post_logout_redirect_uri` was sent that the app did not register.
    not_registered: bool,
    hint: Option<logout::Hint>,
}

async fn target(t: &Tessera, p: &Params) -> Result<Target, HttpResponse> {
    let refuse = |m: &str| error_page(StatusCode::BAD_REQUEST, "This sign-out request cannot be completed", m);
    let hint = match p.get("id_token_hint") {
        Some(h) => Some(logout::read_hint(&t.issuer, h).map_err(|e| refuse(&e.to_string()))?),
        None => None,
    };
    let client_id = match (p.get("client_id"), hint.as_ref().map(|h| h.aud.as_str())) {
        (Some(a), Some(b)) if a != b => return Err(refuse("client_id is not the audience of id_token_hint.")),
        (a, b) => a.or(b),
    };
    let client = match client_id {
        Some(id) => crate::registry::clients::find(&t.db, id).await.map_err(|e| unavailable(e, "client lookup", "The service is unavailable."))?,
        None => None,
    };
    let uri = p.get("post_logout_redirect_uri");
    let redirect = match (uri, &client) {
        (Some(u), Some(c)) => logout::redirect_for(c, u, p.get("state")),
        _ => None,
    };
    Ok(Target { client_name: client.map(|c| c.name), not_registered: uri.is_some() && redirect.is_none(), redirect, hint })
}

/// End the session and tell its apps (in the background); the fresh anonymous session.
async fn sign_out(t: &web::Data<Tessera>, s: &Session) -> Result<Session, HttpResponse> {
    let notices = match (&s.uid, s.store_key()) {
        (Some(uid), Some(key)) => logout::notices(&t.db, t.store.as_ref(), uid, &[key]).await.unwrap_or_else(|e| {
            log::warn!("finding the apps to tell of a logout: {e}");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    end_session(t, s).await.map_err(|e| unavailable(e, "ending a session", "You are still signed in. Try again."))?;
    let t: Arc<Tessera> = t.clone().into_inner();
    actix_web::rt::spawn(async move { logout::deliver(&t.db, &t.issuer, &t.outbound, notices).await });
    Ok(Session::anonymous(crate::db::now()))
}

fn finished(target: &Target, status: StatusCode) -> HttpResponse {
    match &target.redirect {
        Some(u) => redirect(status, u),
        None => render(StatusCode::OK, "logout.html", json!({"done": true, "client_name": target.client_name, "not_registered": target.not_registered})),
    }
}

/// An RP-initiated request: sign out at once when the hint names this
/// session (or the user confirmed), else ask.
async fn rp_logout(t: &web::Data<Tessera>, s: &Session, p: &Params, confirmed: bool, status: StatusCode) -> HttpResponse {
    let target = match target(t, p).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let Some(uid) = s.uid.as_deref() else { return finished(&target, status) };
    let this_session = target.hint.as_ref().is_some_and(|h| h.sub == uid && h.sid.is_some() && h.sid == s.store_key());
    if !(confirmed || this_session) {
        let params: Vec<(&str, &str)> = RP_PARAMS.iter().filter_map(|k| p.get(k).map(|v| (*k, v))).collect();
        let ctx = json!({"csrf": s.csrf, "client_name": target.client_name, "params": params, "user": crate::registry::users::get(&t.db, uid).await.ok().flatten()});
        return with_session(render(StatusCode::OK, "logout.html", ctx), t, s);
    }
    match sign_out(t, s).await {
        Ok(fresh) => with_session(finished(&target, status), t, &fresh),
        Err(page) => page,
    }
}

/// `GET /logout`: the end-session endpoint.
pub async fn end_session_get(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let s = session(&t, &req).await;
    match Params::parse(req.query_string().as_bytes()) {
        Ok(p) => rp_logout(&t, &s, &p, false, StatusCode::FOUND).await,
        Err(e) => error_page(StatusCode::BAD_REQUEST, "This sign-out request cannot be completed", &e.to_string()),
    }
}

/// `POST /logout`: Tessera's sign-out button and the confirmation (both
/// with the session's CSRF token), or an app's form post (without one:
/// it asks first, like a GET).
pub async fn end_session_post(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let s = session(&t, &req).await;
    let pairs = match read_pairs(&req, body, t.cfg.max_body_bytes).await {
        Ok(p) => p,
        Err(e) => return error_page(e.status, "Invalid request", &e.description),
    };
    let p = Params::from_pairs(pairs.iter().filter(|(k, _)| RP_PARAMS.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())));
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    let ours = s.csrf_ok(csrf);
    let no_rp_params = RP_PARAMS.iter().all(|k| p.get(k).is_none());
    match (ours, no_rp_params) {
        (true, true) => match sign_out(&t, &s).await {
            Ok(fresh) => with_session(redirect(StatusCode::SEE_OTHER, "/login"), &t, &fresh),
            Err(page) => page,
        },
        (confirmed, _) => rp_logout(&t, &s, &p, confirmed, StatusCode::SEE_OTHER).await,
    }
}
