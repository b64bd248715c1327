//! The developer portal: developers register and manage their own apps.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::form::read_pairs;
use super::pages::{current_user, error_page, redirect, render, session, when};
use crate::app::Tessera;
use crate::clients::{self, Client, NewClient};
use crate::session::Session;
use crate::users::User;

/// The signed-in user if they may use the portal; otherwise the response to send.
pub async fn require(t: &Tessera, req: &HttpRequest, admin_only: bool) -> Result<(Session, User), HttpResponse> {
    let s = session(t, req);
    let Some(u) = current_user(t, &s).await else { return Err(redirect(StatusCode::FOUND, "/login")) };
    let allowed = if admin_only { u.is_admin() } else { u.is_developer() };
    if !allowed {
        let what = if admin_only { "the admin console" } else { "the developer portal" };
        return Err(error_page(StatusCode::FORBIDDEN, "Not allowed", &format!("Your account cannot use {what}.")));
    }
    Ok((s, u))
}

/// Read a posted page form and check its CSRF token.
pub async fn form(t: &Tessera, req: &HttpRequest, s: &Session, body: web::Payload) -> Result<Vec<(String, String)>, HttpResponse> {
    let pairs = read_pairs(req, body, t.cfg.max_body_bytes)
        .await
        .map_err(|e| error_page(e.status, "Invalid request", &e.description))?;
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    if !s.csrf_ok(csrf) {
        return Err(error_page(StatusCode::FORBIDDEN, "Session expired", "The form was stale or forged. Go back, reload and try again."));
    }
    Ok(pairs)
}

pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// The scopes a user may give their apps: `tessera:admin` only by an admin.
async fn catalogue_for(t: &Tessera, u: &User) -> Vec<crate::catalogue::Scope> {
    crate::catalogue::list(&t.db)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| u.is_admin() || s.name != "tessera:admin")
        .collect()
}

async fn portal_page(t: &Tessera, s: &Session, u: &User, error: Option<String>, form: Value, status: StatusCode) -> HttpResponse {
    let apps = clients::list(&t.db, Some(&u.user_id)).await.unwrap_or_default();
    let catalogue = catalogue_for(t, u).await;
    render(status, "portal.html", json!({"user": u, "csrf": s.csrf, "apps": apps, "catalogue": catalogue, "error": error, "form": form}))
}

pub async fn index(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    let (s, u) = match require(&t, &req, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    portal_page(&t, &s, &u, None, json!({"scopes": []}), StatusCode::OK).await
}

pub async fn create(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let (s, u) = match require(&t, &req, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let pairs = match form(&t, &req, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let client_type = field(&pairs, "client_type").to_string();
    let mut grant_types = vec!["authorization_code".to_string(), "refresh_token".to_string()];
    if field(&pairs, "machine") == "1" {
        grant_types.push("client_credentials".into());
    }
    let scopes = all(&pairs, "scope");
    let n = NewClient {
        name: field(&pairs, "name").to_string(),
        description: field(&pairs, "description").to_string(),
        client_type: client_type.clone(),
        grant_types,
        scopes: scopes.clone(),
        redirect_uris: lines(field(&pairs, "redirect_uris")),
        owner_user_id: Some(u.user_id.clone()),
        tier: None,
        rate_limit: None,
    };
    let refused = |msg: String| {
        let form = json!({
            "name": n.name, "description": n.description, "client_type": client_type, "machine": field(&pairs, "machine") == "1",
            "redirect_uris": field(&pairs, "redirect_uris"), "scopes": scopes,
        });
        (msg, form)
    };
    if !u.is_admin() && n.scopes.iter().any(|s| s == "tessera:admin") {
        let (m, f) = refused("only an admin can give an app the tessera:admin scope".into());
        return portal_page(&t, &s, &u, Some(m), f, StatusCode::FORBIDDEN).await;
    }
    match clients::create(&t.db, n.clone(), Some(&u.user_id)).await {
        Ok(created) => app_page(&t, &s, &u, &created.client, created.client_secret.as_deref(), None, None, StatusCode::CREATED).await,
        Err(e @ (crate::error::Error::Validation(_) | crate::error::Error::Conflict(_))) => {
            let (m, f) = refused(e.to_string());
            portal_page(&t, &s, &u, Some(m), f, StatusCode::BAD_REQUEST).await
        }
        Err(e) => {
            log::error!("registering an app: {e}");
            error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "Nothing was saved.")
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn app_page(
    t: &Tessera,
    s: &Session,
    u: &User,
    c: &Client,
    secret: Option<&str>,
    notice: Option<&str>,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let grants = crate::grants::list_for_client(&t.db, &c.client_id).await.unwrap_or_default();
    let last = grants.iter().filter_map(|g| g.last_used_at).max();
    let tokens = t.usage(&c.client_id).await.unwrap_or(0);
    let usage = json!({"users": grants.len(), "tokens": tokens, "last_used": when(last)});
    let catalogue = catalogue_for(t, u).await;
    render(
        status,
        "portal_app.html",
        json!({"user": u, "csrf": s.csrf, "app": c, "secret": secret, "usage": usage, "catalogue": catalogue, "notice": notice, "error": error}),
    )
}

/// The app if this user may manage it (its owner, or an admin); 404 otherwise,
/// so developers cannot even learn that another's app exists.
async fn owned(t: &Tessera, u: &User, id: &str) -> Result<Client, HttpResponse> {
    match clients::find(&t.db, id).await {
        Ok(Some(c)) if u.is_admin() || c.owner_user_id.as_deref() == Some(u.user_id.as_str()) => Ok(c),
        Ok(_) => Err(error_page(StatusCode::NOT_FOUND, "Not found", "There is no such app among yours.")),
        Err(e) => {
            log::error!("loading an app: {e}");
            Err(error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "The service is unavailable."))
        }
    }
}

pub async fn show(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (s, u) = match require(&t, &req, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match owned(&t, &u, &path).await {
        Ok(c) => app_page(&t, &s, &u, &c, None, None, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

/// `POST /portal/apps/{id}/{action}`: edit, rotate-secret, suspend, activate, delete.
pub async fn action(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<(String, String)>, body: web::Payload) -> HttpResponse {
    let (s, u) = match require(&t, &req, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let pairs = match form(&t, &req, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (id, what) = path.into_inner();
    let c = match owned(&t, &u, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let actor = Some(u.user_id.as_str());
    let result = match what.as_str() {
        "edit" => {
            let scopes = all(&pairs, "scope");
            if !u.is_admin() && scopes.iter().any(|s| s == "tessera:admin") && !c.scopes.iter().any(|s| s == "tessera:admin") {
                return app_page(&t, &s, &u, &c, None, None, Some("only an admin can add tessera:admin".into()), StatusCode::FORBIDDEN).await;
            }
            clients::update(&t.db, t.store.as_ref(), &id, lines(field(&pairs, "redirect_uris")), scopes, actor).await.map(|c| (c, None, "Saved."))
        }
        "rotate-secret" => clients::rotate_secret(&t.db, t.store.as_ref(), &id, actor).await.map(|r| (r.client, r.client_secret, "Secret rotated.")),
        "suspend" => clients::set_status(&t.db, t.store.as_ref(), &id, false, actor).await.map(|c| (c, None, "Suspended: its tokens stop working now.")),
        "activate" => clients::set_status(&t.db, t.store.as_ref(), &id, true, actor).await.map(|c| (c, None, "Reactivated.")),
        "delete" => {
            return match clients::delete(&t.db, t.store.as_ref(), &id, actor).await {
                Ok(()) => redirect(StatusCode::SEE_OTHER, "/portal"),
                Err(e) => {
                    log::error!("deleting an app: {e}");
                    error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "Nothing was deleted.")
                }
            };
        }
        _ => return error_page(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    match result {
        Ok((c, secret, notice)) => app_page(&t, &s, &u, &c, secret.as_deref(), Some(notice), None, StatusCode::OK).await,
        Err(e @ (crate::error::Error::Validation(_) | crate::error::Error::Conflict(_))) => {
            app_page(&t, &s, &u, &c, None, None, Some(e.to_string()), StatusCode::BAD_REQUEST).await
        }
        Err(e) => {
            log::error!("changing an app: {e}");
            error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "Nothing was changed.")
        }
    }
}
