//! The admin console (role admin) and the admin JSON API (a client_credentials
//! token with the `tessera:admin` scope). Both call the same management
//! functions as the CLI.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::error::OAuthError;
use super::form::read_json;
use super::pages::{render, when};
use super::portal::{field, form, require};
use crate::app::Tessera;
use crate::clients::{self, NewClient};
use crate::error::Error;
use crate::session::Session;
use crate::users::User;

async fn console(t: &Tessera, s: &Session, u: &User, notice: Option<String>) -> HttpResponse {
    let users = crate::users::list(&t.db).await.unwrap_or_default();
    let clients: Vec<_> = clients::list(&t.db, None)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let owner = c.owner_user_id.as_ref().and_then(|o| users.iter().find(|u| &u.user_id == o)).map(|u| u.username.clone());
            json!({"client_id": c.client_id, "name": c.name, "status": c.status, "owner": owner})
        })
        .collect();
    let keys: Vec<_> = t
        .keys
        .list()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|k| json!({"kid": k.kid, "alg": k.alg, "state": k.state, "created": when(Some(k.created_at)), "published": k.published}))
        .collect();
    let scopes = crate::catalogue::list(&t.db).await.unwrap_or_default();
    let audit: Vec<_> = crate::audit::list(&t.db, &crate::audit::Filter { limit: 50, ..Default::default() })
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| json!({"when": when(Some(e.at)), "event": e.event, "client_id": e.client_id, "user_id": e.user_id, "ip": e.ip}))
        .collect();
    render(
        StatusCode::OK,
        "admin.html",
        json!({"user": u, "csrf": s.csrf, "clients": clients, "keys": keys, "scopes": scopes, "audit": audit, "notice": notice}),
    )
}

pub async fn index(t: web::Data<Tessera>, req: HttpRequest) -> HttpResponse {
    match require(&t, &req, true).await {
        Ok((s, u)) => console(&t, &s, &u, None).await,
        Err(r) => r,
    }
}

/// `POST /admin/clients/{id}/suspend|activate`, `POST /admin/scopes`, `POST /admin/keys/rotate`.
pub async fn client_action(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<(String, String)>, body: web::Payload) -> HttpResponse {
    let (s, u) = match require(&t, &req, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = form(&t, &req, &s, body).await {
        return r;
    }
    let (id, what) = path.into_inner();
    let active = match what.as_str() {
        "suspend" => false,
        "activate" => true,
        _ => return super::pages::error_page(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    let notice = match clients::set_status(&t.db, t.store.as_ref(), &id, active, Some(&u.user_id)).await {
        Ok(c) => format!("{} is now {}.", c.name, c.status),
        Err(e) => e.to_string(),
    };
    console(&t, &s, &u, Some(notice)).await
}

pub async fn add_scope(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let (s, u) = match require(&t, &req, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let pairs = match form(&t, &req, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let notice = match crate::catalogue::add(&t.db, field(&pairs, "name"), field(&pairs, "description")).await {
        Ok(sc) => format!("Scope {} added.", sc.name),
        Err(e) => e.to_string(),
    };
    console(&t, &s, &u, Some(notice)).await
}

pub async fn rotate_keys(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let (s, u) = match require(&t, &req, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = form(&t, &req, &s, body).await {
        return r;
    }
    let notice = match t.keys.rotate(false).await {
        Ok(r) => format!("Rotated: {} signs now, {} is the next key.", r.current, r.next),
        Err(e) => e.to_string(),
    };
    console(&t, &s, &u, Some(notice)).await
}

// ---- JSON API ----

/// Check the bearer token of an admin API call: `tessera:admin` scope required.
async fn api_auth(t: &Tessera, req: &HttpRequest) -> Result<std::sync::Arc<crate::clients::Client>, OAuthError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim);
    let challenge = |code: &'static str, status: StatusCode, desc: &str| OAuthError {
        www_authenticate: Some(format!("Bearer realm=\"tessera\", error=\"{code}\", scope=\"tessera:admin\"")),
        ..OAuthError::new(status, code, desc)
    };
    let Some(token) = token else { return Err(challenge("invalid_token", StatusCode::UNAUTHORIZED, "a bearer token is required")) };
    use crate::oauth::userinfo::{check_bearer, BearerError};
    match check_bearer(t, token, "tessera:admin", None).await {
        Ok(b) => Ok(b.client),
        Err(BearerError::InsufficientScope(_)) => Err(challenge("insufficient_scope", StatusCode::FORBIDDEN, "the tessera:admin scope is required")),
        Err(BearerError::Unavailable | BearerError::RateLimited(_)) => Err(Error::Config("store unavailable".into()).into()),
        Err(_) => Err(challenge("invalid_token", StatusCode::UNAUTHORIZED, "the token is invalid, expired or revoked")),
    }
}

fn ok(v: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(v)
}

pub async fn api_clients(t: web::Data<Tessera>, req: HttpRequest) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    Ok(ok(clients::list(&t.db, None).await?))
}

#[derive(Deserialize)]
pub struct NewClientJson {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type", default = "confidential")]
    client_type: String,
    grant_types: Vec<String>,
    scopes: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    owner: Option<String>,
    tier: Option<String>,
    rate_limit: Option<i64>,
}

fn confidential() -> String {
    "confidential".into()
}

pub async fn api_create_client(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let admin = api_auth(&t, &req).await?;
    let j: NewClientJson = read_json(&req, body, t.cfg.max_body_bytes).await?;
    let n = NewClient {
        name: j.name,
        description: j.description,
        client_type: j.client_type,
        grant_types: j.grant_types,
        scopes: j.scopes,
        redirect_uris: j.redirect_uris,
        owner_user_id: j.owner,
        tier: j.tier,
        rate_limit: j.rate_limit,
    };
    let created = clients::create(&t.db, n, Some(&format!("client:{}", admin.client_id))).await?;
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(created))
}

pub async fn api_client(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    Ok(ok(clients::get(&t.db, &path).await?))
}

pub async fn api_client_action(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse, OAuthError> {
    let admin = api_auth(&t, &req).await?;
    let actor = format!("client:{}", admin.client_id);
    let (id, what) = path.into_inner();
    Ok(match what.as_str() {
        "suspend" => ok(clients::set_status(&t.db, t.store.as_ref(), &id, false, Some(&actor)).await?),
        "activate" => ok(clients::set_status(&t.db, t.store.as_ref(), &id, true, Some(&actor)).await?),
        "rotate-secret" => ok(clients::rotate_secret(&t.db, t.store.as_ref(), &id, Some(&actor)).await?),
        _ => return Err(Error::NotFound(format!("action {what}")).into()),
    })
}

pub async fn api_delete_client(t: web::Data<Tessera>, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    let admin = api_auth(&t, &req).await?;
    clients::delete(&t.db, t.store.as_ref(), &path, Some(&format!("client:{}", admin.client_id))).await?;
    Ok(ok(json!({"deleted": path.as_str()})))
}

pub async fn api_keys(t: web::Data<Tessera>, req: HttpRequest) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    Ok(ok(t.keys.list().await.map_err(Error::from)?))
}

#[derive(Deserialize, Default)]
pub struct RotateJson {
    #[serde(default)]
    force: bool,
}

pub async fn api_rotate_keys(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    let j: RotateJson = if req.headers().contains_key(header::CONTENT_TYPE) {
        read_json(&req, body, t.cfg.max_body_bytes).await?
    } else {
        RotateJson::default()
    };
    match t.keys.rotate(j.force).await {
        Ok(r) => Ok(ok(r)),
        Err(e @ crate::keys::KeyError::TooSoon { .. }) => Err(Error::Conflict(e.to_string()).into()),
        Err(e) => Err(Error::from(e).into()),
    }
}

pub async fn api_scopes(t: web::Data<Tessera>, req: HttpRequest) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    Ok(ok(crate::catalogue::list(&t.db).await?))
}

#[derive(Deserialize)]
pub struct ScopeJson {
    name: String,
    description: String,
}

pub async fn api_add_scope(t: web::Data<Tessera>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    let j: ScopeJson = read_json(&req, body, t.cfg.max_body_bytes).await?;
    Ok(HttpResponse::Created().json(crate::catalogue::add(&t.db, &j.name, &j.description).await?))
}

pub async fn api_audit(t: web::Data<Tessera>, req: HttpRequest) -> Result<HttpResponse, OAuthError> {
    api_auth(&t, &req).await?;
    let p = crate::oauth::params::Params::parse(req.query_string().as_bytes())?;
    let since = match p.get("since") {
        Some(s) => Some(crate::audit::parse_since(s, crate::db::now()).ok_or_else(|| Error::invalid_request("bad since"))?),
        None => None,
    };
    let f = crate::audit::Filter {
        since,
        client_id: p.get("client").map(str::to_string),
        user_id: p.get("user").map(str::to_string),
        event: p.get("event").map(str::to_string),
        limit: p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).min(1000),
    };
    Ok(ok(crate::audit::list(&t.db, &f).await.map_err(Error::from)?))
}
