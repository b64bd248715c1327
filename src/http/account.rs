//! A user's own account: the connected-apps page and its JSON API. Each app
//! can be revoked in one click without touching any other.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::form::read_form;
use super::pages::{current_user, error_page, redirect, render, session, when};
use crate::app::Tessera;
use crate::session::Session;
use crate::users::User;

async fn signed_in(t: &Tessera, req: &HttpRequest) -> (Session, Option<User>) {
    let s = session(t, req);
    let u = current_user(t, &s).await;
    (s, u)
}

pub async fn page(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let (s, user) = signed_in(&t, &req).await;
    let Some(user) = user else { return redirect(StatusCode::FOUND, "/login") };
    let apps = match crate::grants::list_for_user(&t.db, &user.user_id).await {
        Ok(a) => a,
        Err(e) => {
            log::error!("listing grants: {e}");
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "The service is unavailable.");
        }
    };
    let apps: Vec<_> = apps
        .into_iter()
        .map(|a| {
            json!({
                "client_id": a.grant.client_id, "client_name": a.client_name, "client_description": a.client_description,
                "scopes": a.grant.scopes, "created_at_text": when(Some(a.grant.created_at)),
                "last_used_text": when(a.grant.last_used_at),
            })
        })
        .collect();
    let notice = req.query_string().contains("revoked=1").then_some("Access revoked.");
    render(StatusCode::OK, "account.html", json!({"user": user, "csrf": s.csrf, "apps": apps, "notice": notice}))
}

/// `POST /account/grants/{client_id}/revoke` from the page (form CSRF token).
pub async fn revoke_form(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<String>, body: web::Payload) -> HttpResponse {
    let (s, user) = signed_in(&t, &req).await;
    let form = read_form(&req, body, t.cfg.max_body_bytes).await.unwrap_or_default();
    if !s.csrf_ok(form.get("csrf")) {
        return error_page(StatusCode::FORBIDDEN, "Session expired", "The form was stale or forged.");
    }
    let Some(user) = user else { return redirect(StatusCode::SEE_OTHER, "/login") };
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    match crate::grants::revoke(&t.db, t.store.as_ref(), &user.user_id, &path, Some(&user.user_id), ip.as_deref()).await {
        Ok(_) | Err(crate::error::Error::NotFound(_)) => redirect(StatusCode::SEE_OTHER, "/account?revoked=1"),
        Err(e) => {
            log::error!("revoking a grant: {e}");
            error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "Nothing was changed. Try again.")
        }
    }
}

fn api_error(status: StatusCode, code: &str, desc: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": code, "error_description": desc}))
}

/// `GET /account/api/grants`: the signed-in user's connected apps as JSON.
pub async fn api_list(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let (_, user) = signed_in(&t, &req).await;
    let Some(user) = user else { return api_error(StatusCode::UNAUTHORIZED, "login_required", "sign in first") };
    match crate::grants::list_for_user(&t.db, &user.user_id).await {
        Ok(apps) => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(apps),
        Err(_) => api_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "retry later"),
    }
}

/// `DELETE /account/api/grants/{client_id}` with the session's CSRF token in `X-CSRF-Token`.
pub async fn api_revoke(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (s, user) = signed_in(&t, &req).await;
    let Some(user) = user else { return api_error(StatusCode::UNAUTHORIZED, "login_required", "sign in first") };
    let presented = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !s.csrf_ok(presented) {
        return api_error(StatusCode::FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token");
    }
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    match crate::grants::revoke(&t.db, t.store.as_ref(), &user.user_id, &path, Some(&user.user_id), ip.as_deref()).await {
        Ok(n) => HttpResponse::Ok().json(json!({"revoked": path.as_str(), "tokens_revoked": n})),
        Err(crate::error::Error::NotFound(_)) => api_error(StatusCode::NOT_FOUND, "not_found", "no such grant"),
        Err(_) => api_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "nothing changed; retry later"),
    }
}
