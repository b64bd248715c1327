//! A user's own account: the connected-apps page and its JSON API. Each app
//! can be revoked in one click without touching any other.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{client_ip, AccountApi, AnyUser, CsrfForm, PageUser};
use super::pages::{redirect, render, unavailable, when};
use crate::app::Tessera;
use crate::error::Error;
use crate::registry::consents;

pub async fn page(t: web::Data<Tessera>, p: PageUser<AnyUser>, req: HttpRequest) -> HttpResponse {
    let apps = match consents::list_for_user(&t.db, &p.user.user_id).await {
        Ok(a) => a,
        Err(e) => return unavailable(e, "listing consents", "The service is unavailable."),
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
    render(StatusCode::OK, "account.html", json!({"user": p.user, "csrf": p.session.csrf, "apps": apps, "notice": notice}))
}

/// `POST /account/grants/{client_id}/revoke` from the page (form CSRF token).
pub async fn revoke_form(t: web::Data<Tessera>, _f: CsrfForm, p: PageUser<AnyUser>, path: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let uid = p.user.user_id.as_str();
    match consents::revoke(&t.db, t.store.as_ref(), uid, &path, Some(uid), client_ip(&req, &t.cfg.trusted_proxies).as_deref()).await {
        Ok(_) | Err(Error::NotFound(_)) => redirect(StatusCode::SEE_OTHER, "/account?revoked=1"),
        Err(e) => unavailable(e, "revoking a consent", "Nothing was changed. Try again."),
    }
}

fn api_error(status: StatusCode, code: &str, desc: &str) -> HttpResponse {
    HttpResponse::build(status).insert_header(("Cache-Control", "no-store")).json(json!({"error": code, "error_description": desc}))
}

/// `GET /account/api/grants`: the signed-in user's connected apps as JSON.
pub async fn api_list(t: web::Data<Tessera>, p: PageUser<AccountApi>) -> HttpResponse {
    match consents::list_for_user(&t.db, &p.user.user_id).await {
        Ok(apps) => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(apps),
        Err(_) => api_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "retry later"),
    }
}

/// `DELETE /account/api/grants/{client_id}` with the session's CSRF token in `X-CSRF-Token`.
pub async fn api_revoke(t: web::Data<Tessera>, p: PageUser<AccountApi>, path: web::Path<String>, req: HttpRequest) -> HttpResponse {
    let presented = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !p.session.csrf_ok(presented) {
        return api_error(StatusCode::FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token");
    }
    let uid = p.user.user_id.as_str();
    match consents::revoke(&t.db, t.store.as_ref(), uid, &path, Some(uid), client_ip(&req, &t.cfg.trusted_proxies).as_deref()).await {
        Ok(n) => HttpResponse::Ok().json(json!({"revoked": path.as_str(), "tokens_revoked": n})),
        Err(Error::NotFound(_)) => api_error(StatusCode::NOT_FOUND, "not_found", "no such grant"),
        Err(_) => api_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "nothing changed; retry later"),
    }
}
