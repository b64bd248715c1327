//! The developer portal: developers register and manage their own apps.
//! Who may manage which app is `oauth::registration`'s rule; this file
//! renders the pages.
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{CsrfForm, Developer, PageUser};
use super::pages::{error_page, redirect, render, unavailable, when};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::registration;
use crate::registry::clients::{self, Change, Client, NewClient, StatusChange};
use crate::registry::{catalogue, consents};

type Dev = PageUser<Developer>;

pub(super) fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// The scopes this user may give their apps.
async fn catalogue_for(t: &Tessera, p: &Dev) -> Vec<catalogue::Scope> {
    let all = catalogue::list(&t.db).await.unwrap_or_default();
    all.into_iter().filter(|s| registration::may_grant_scope(p.user.is_admin(), &s.name)).collect()
}

async fn portal_page(t: &Tessera, p: &Dev, error: Option<String>, form: Value, status: StatusCode) -> HttpResponse {
    let apps = clients::list(&t.db, Some(&p.user.user_id)).await.unwrap_or_default();
    let catalogue = catalogue_for(t, p).await;
    render(status, "portal.html", json!({"user": p.user, "csrf": p.session.csrf, "apps": apps, "catalogue": catalogue, "error": error, "form": form}))
}

pub async fn index(t: web::Data<Tessera>, p: Dev) -> HttpResponse {
    portal_page(&t, &p, None, json!({"scopes": []}), StatusCode::OK).await
}

/// The registration the portal's form asks for.
fn new_client(f: &CsrfForm, owner: &str) -> NewClient {
    NewClient {
        name: f.get("name").to_string(),
        description: f.get("description").to_string(),
        client_type: f.get("client_type").to_string(),
        grant_types: registration::portal_grant_types(registration::PortalKind::from_form(f.get("machine"))),
        scopes: f.all("scope"),
        redirect_uris: lines(f.get("redirect_uris")),
        allowed_origins: lines(f.get("allowed_origins")),
        owner_user_id: Some(owner.to_string()),
        tier: None,
        rate_limit: None,
        can_introspect: false,
        pkce_optional: false,
        machine_pending: false,
        require_par: false,
        auth_method: (!f.get("jwks_uri").trim().is_empty()).then(|| clients::PRIVATE_KEY_JWT.to_string()),
        jwks_uri: Some(f.get("jwks_uri").trim().to_string()).filter(|u| !u.is_empty()),
        ..Default::default()
    }
}

pub async fn create(t: web::Data<Tessera>, p: Dev, f: CsrfForm) -> HttpResponse {
    let n = new_client(&f, &p.user.user_id);
    let refused = |msg: String, status| {
        let form = json!({
            "name": n.name, "description": n.description, "client_type": n.client_type, "machine": f.get("machine"),
            "redirect_uris": f.get("redirect_uris"), "allowed_origins": f.get("allowed_origins"), "scopes": n.scopes, "jwks_uri": f.get("jwks_uri"),
        });
        portal_page(&t, &p, Some(msg), form, status)
    };
    if let Err(e) = registration::may_grant_scopes(p.user.is_admin(), &[], &n.scopes) {
        return refused(e.to_string(), StatusCode::FORBIDDEN).await;
    }
    match registration::register_self_service(&t.db, n.clone(), Some(&p.user.user_id), p.user.is_admin()).await {
        Ok(created) => app_page(&t, &p, &created.client, created.client_secret.as_deref(), Ok(None), StatusCode::CREATED).await,
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => refused(e.to_string(), StatusCode::BAD_REQUEST).await,
        Err(e) => unavailable(e, "registering an app", "Nothing was saved."),
    }
}

/// The 30-day chart of a client (inline SVG) and its 429s of the last 7 days.
pub async fn daily_chart(t: &Tessera, c: &Client) -> (String, i64) {
    let unwritten = t.tally.unwritten_today(&c.client_id);
    let days = crate::registry::usage::last_days(&t.db, &c.client_id, 30, crate::db::now(), unwritten).await.unwrap_or_default();
    let limited_7d = days.iter().rev().take(7).map(|d| d.limited).sum();
    (super::chart::daily(&days, "usage-chart"), limited_7d)
}

/// An app's page; `said`: the notice of what was just done, or the error of what was refused.
async fn app_page(t: &Tessera, p: &Dev, c: &Client, secret: Option<&str>, said: Result<Option<&str>, String>, status: StatusCode) -> HttpResponse {
    let grants = consents::list_for_client(&t.db, &c.client_id).await.unwrap_or_default();
    let last = grants.iter().filter_map(|g| g.last_used_at).max();
    let tokens = t.issuer.usage(&c.client_id).await.unwrap_or(0);
    let (chart, limited_7d) = daily_chart(t, c).await;
    let limit = t.cfg.rate.limit_for(&c.tier, c.rate_limit);
    let usage = json!({"users": grants.len(), "tokens": tokens, "last_used": when(last), "limit": limit, "limited_7d": limited_7d, "chart": chart});
    let catalogue = catalogue_for(t, p).await;
    let (notice, error) = match said {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    let previous_until = when(c.previous_secret_expires_at.filter(|t| *t > crate::db::now()));
    let ctx = json!({"user": p.user, "csrf": p.session.csrf, "app": c, "secret": secret, "usage": usage, "catalogue": catalogue, "notice": notice, "error": error, "previous_until": previous_until});
    render(status, "portal_app.html", ctx)
}

/// The app if this user may manage it (its owner, or an admin); 404 otherwise,
/// so developers cannot even learn that another's app exists.
async fn owned(t: &Tessera, p: &Dev, id: &str) -> Result<Client, HttpResponse> {
    match clients::find(&t.db, id).await {
        Ok(Some(c)) if registration::may_manage(p.user.is_admin(), &p.user.user_id, &c) => Ok(c),
        Ok(_) => Err(error_page(StatusCode::NOT_FOUND, "Not found", "There is no such app among yours.")),
        Err(e) => Err(unavailable(e, "loading an app", "The service is unavailable.")),
    }
}

pub async fn show(t: web::Data<Tessera>, p: Dev, path: web::Path<String>) -> HttpResponse {
    match owned(&t, &p, &path).await {
        Ok(c) => app_page(&t, &p, &c, None, Ok(None), StatusCode::OK).await,
        Err(r) => r,
    }
}

/// The portal's change of an app's settings: what the form shows. `Err`: the page of a refusal.
async fn edit(t: &Tessera, p: &Dev, f: &CsrfForm, c: &Client) -> Result<Result<(Client, Option<String>, &'static str), Error>, HttpResponse> {
    let scopes = f.all("scope");
    if let Err(e) = registration::may_grant_scopes(p.user.is_admin(), &c.scopes, &scopes) {
        return Err(app_page(t, p, c, None, Err(e.to_string()), StatusCode::FORBIDDEN).await);
    }
    let change = Change {
        redirect_uris: lines(f.get("redirect_uris")),
        scopes,
        allowed_origins: lines(f.get("allowed_origins")),
        name: f.field("name"),
        description: f.field("description"),
        ..Default::default()
    };
    let actor = Some(p.user.user_id.as_str());
    Ok(registration::update_self_service(&t.db, t.store.as_ref(), c, change, actor, p.user.is_admin()).await.map(|c| (c, None, "Saved.")))
}

/// `POST /portal/apps/{id}/{action}`: edit, rotate-secret, suspend, activate, delete.
pub async fn action(t: web::Data<Tessera>, p: Dev, f: CsrfForm, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, what) = path.into_inner();
    let c = match owned(&t, &p, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (db, store, actor) = (&t.db, t.store.as_ref(), Some(p.user.user_id.as_str()));
    let result = match what.as_str() {
        "edit" => match edit(&t, &p, &f, &c).await {
            Ok(done) => done,
            Err(page) => return page,
        },
        "rotate-secret" => {
            // "grace": how long the old secret keeps working (0: it stops now, for a leak)
            let grace = f.get("grace").parse::<i64>().unwrap_or(0);
            let said = if grace > 0 { "Secret rotated: the old one works for 24 hours more." } else { "Secret rotated: the old one stopped working." };
            clients::rotate_secret(db, store, &id, grace, actor).await.map(|r| (r.client, r.client_secret, said))
        }
        "suspend" => clients::set_status(db, store, &id, StatusChange::Suspend, actor).await.map(|c| (c, None, "Suspended: its tokens stop working now.")),
        "activate" => {
            let change = if p.user.is_admin() { StatusChange::Release } else { StatusChange::Activate };
            clients::set_status(db, store, &id, change, actor).await.map(|c| (c, None, "Reactivated."))
        }
        "delete" => return clients::delete(db, store, &id, actor).await.map_or_else(|e| unavailable(e, "deleting an app", "Nothing was deleted."), |()| redirect(StatusCode::SEE_OTHER, "/portal")),
        _ => return error_page(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    match result {
        Ok((c, secret, notice)) => app_page(&t, &p, &c, secret.as_deref(), Ok(Some(notice)), StatusCode::OK).await,
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => app_page(&t, &p, &c, None, Err(e.to_string()), StatusCode::BAD_REQUEST).await,
        Err(e @ Error::AccessDenied(_)) => app_page(&t, &p, &c, None, Err(e.to_string()), StatusCode::FORBIDDEN).await,
        Err(e) => unavailable(e, "changing an app", "Nothing was changed."),
    }
}
