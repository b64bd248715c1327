//! The admin console (users with the admin role) and the admin JSON API (a
//! bearer token with the `tessera:admin` scope, for Tessera, of a
//! confidential client or an admin user: `oauth::admin`; counted against
//! its client's rate limit). Both call the same management functions as the CLI.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::error::OAuthError;
use super::extract::{Admin, BearerToken, CsrfForm, PageUser, Protected};
use super::form::read_json;
use super::pages::{error_page, render, when};
use crate::app::Tessera;
use crate::error::Error;
use crate::oauth::registration;
use crate::oauth::bearer::Resource;
use crate::registry::clients::{self, NewClient, StatusChange};
use crate::registry::{audit, catalogue, registration_tokens, users};

type Console = PageUser<Admin>;

async fn console(t: &Tessera, p: &Console, notice: Option<String>) -> HttpResponse {
    let users = users::list(&t.db).await.unwrap_or_default();
    let all_clients = clients::list(&t.db, None).await.unwrap_or_default();
    let username = |id: &Option<String>| id.as_ref().and_then(|i| users.iter().find(|u| &u.user_id == i)).map(|u| u.username.clone());
    let client_name = |id: &Option<String>| id.as_ref().and_then(|i| all_clients.iter().find(|c| &c.client_id == i)).map(|c| c.name.clone());
    let audit: Vec<_> = (audit::list(&t.db, &audit::Filter { limit: 50, ..Default::default() }).await.unwrap_or_default().into_iter())
        .map(|e| {
            json!({
                "when": when(Some(e.at)), "event": e.event, "client_id": e.client_id, "client_name": client_name(&e.client_id),
                "user_id": e.user_id, "username": username(&e.user_id), "ip": e.ip,
            })
        })
        .collect();
    let clients: Vec<_> = all_clients
        .iter()
        .map(|c| json!({"client_id": c.client_id, "name": c.name, "status": c.status, "hold": c.admin_hold, "can_introspect": c.can_introspect, "machine_pending": c.machine_pending, "owner": username(&c.owner_user_id), "dynamic": c.dynamic}))
        .collect();
    let keys: Vec<_> = (t.keys.list().await.unwrap_or_default().into_iter())
        .map(|k| json!({"kid": k.kid, "alg": k.alg, "state": k.state, "created": when(Some(k.created_at)), "published": k.published}))
        .collect();
    let scopes = catalogue::list(&t.db).await.unwrap_or_default();

    let ctx = json!({"user": p.user, "csrf": p.session.csrf, "clients": clients, "users": users, "roles": users::ROLES, "keys": keys, "scopes": scopes, "audit": audit, "notice": notice});
    render(StatusCode::OK, "admin.html", ctx)
}

pub async fn index(t: web::Data<Tessera>, p: Console) -> HttpResponse {
    console(&t, &p, None).await
}

/// A client's page in the console: its facts, its 30 days, its settings.
async fn client_page(t: &Tessera, p: &Console, c: &clients::Client, said: Result<Option<&str>, String>, status: StatusCode) -> HttpResponse {
    let grants = crate::registry::consents::list_for_client(&t.db, &c.client_id).await.unwrap_or_default();
    let tokens = t.issuer.usage(&c.client_id).await.unwrap_or(0);
    let (chart, limited_7d) = super::portal::daily_chart(t, c).await;
    let usage = json!({"users": grants.len(), "tokens": tokens, "limit": t.cfg.rate.limit_for(&c.tier, c.rate_limit), "limited_7d": limited_7d, "chart": chart});
    let owner = match &c.owner_user_id {
        Some(o) => users::get(&t.db, o).await.ok().flatten().map(|u| u.username),
        None => None,
    };
    let (notice, error) = match said {
        Ok(n) => (n, None),
        Err(e) => (None, Some(e)),
    };
    let catalogue = catalogue::list(&t.db).await.unwrap_or_default();
    let ctx = json!({
        "user": p.user, "csrf": p.session.csrf, "app": c, "owner": owner, "usage": usage, "catalogue": catalogue,
        "tiers": clients::TIERS, "notice": notice, "error": error,
    });
    render(status, "admin_client.html", ctx)
}

/// The client a console page is about; `Err`: the page saying why there is none.
async fn loaded(t: &Tessera, id: &str) -> Result<clients::Client, HttpResponse> {
    match clients::find(&t.db, id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(error_page(StatusCode::NOT_FOUND, "Not found", "No such client.")),
        Err(e) => Err(super::pages::unavailable(e, "loading a client", "The service is unavailable.")),
    }
}

/// `GET /admin/clients/{id}`.
pub async fn client(t: web::Data<Tessera>, p: Console, path: web::Path<String>) -> HttpResponse {
    match loaded(&t, &path).await {
        Ok(c) => client_page(&t, &p, &c, Ok(None), StatusCode::OK).await,
        Err(page) => page,
    }
}

/// `POST /admin/clients/{id}/security`: PAR, DPoP, the FAPI 2.0 profile, a key URL.
async fn secure_client(t: &Tessera, p: &Console, f: &CsrfForm, id: &str) -> HttpResponse {
    let s = clients::Security {
        require_par: f.get("require_par") == "1",
        require_dpop: f.get("require_dpop") == "1",
        profile: Some(f.get("profile").to_string()).filter(|p| !p.is_empty()),
        jwks_uri: Some(f.get("jwks_uri").trim().to_string()).filter(|u| !u.is_empty()),
    };
    let c = match loaded(t, id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    match registration::secure(&t.db, t.store.as_ref(), id, s, Some(p.user.user_id.as_str())).await {
        Ok(updated) => client_page(t, p, &updated, Ok(Some("Saved.")), StatusCode::OK).await,
        Err(e @ (Error::Validation(_) | Error::NotFound(_))) => client_page(t, p, &c, Err(e.to_string()), StatusCode::BAD_REQUEST).await,
        Err(e) => super::pages::unavailable(e, "changing a client", "Nothing was changed."),
    }
}

/// The console's change of a client: everything the form shows.
async fn edit_client(t: &Tessera, p: &Console, f: &CsrfForm, id: &str) -> HttpResponse {
    let c = match loaded(t, id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let rate_limit = match f.get("rate_limit").trim() {
        "" => None,
        n => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return client_page(t, p, &c, Err("The rate limit must be a whole number.".into()), StatusCode::BAD_REQUEST).await,
        },
    };
    let change = clients::Change {
        redirect_uris: super::portal::lines(f.get("redirect_uris")),
        scopes: f.all("scope"),
        allowed_origins: super::portal::lines(f.get("allowed_origins")),
        name: f.field("name"),
        description: f.field("description"),
        tier: f.field("tier"),
        rate_limit,
    };
    match registration::update(&t.db, t.store.as_ref(), id, change, Some(p.user.user_id.as_str())).await {
        Ok(c) => client_page(t, p, &c, Ok(Some("Saved.")), StatusCode::OK).await,
        Err(e @ (Error::Validation(_) | Error::Conflict(_))) => client_page(t, p, &c, Err(e.to_string()), StatusCode::BAD_REQUEST).await,
        Err(e) => super::pages::unavailable(e, "changing a client", "Nothing was changed."),
    }
}

/// `POST /admin/clients/{id}/suspend|activate|allow-introspection|deny-introspection|approve`:
/// an admin's suspension (with the reason the form gives) only an admin
/// lifts; whether the client may introspect other clients' tokens.
pub async fn client_action(t: web::Data<Tessera>, p: Console, f: CsrfForm, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, what) = path.into_inner();
    match what.as_str() {
        "edit" => return edit_client(&t, &p, &f, &id).await,
        "security" => return secure_client(&t, &p, &f, &id).await,
        _ => {}
    }
    let (db, store, actor) = (&t.db, t.store.as_ref(), Some(p.user.user_id.as_str()));
    let done = match what.as_str() {
        "suspend" => clients::set_status(db, store, &id, StatusChange::Hold { reason: f.get("reason") }, actor).await,
        "activate" => clients::set_status(db, store, &id, StatusChange::Release, actor).await,
        "allow-introspection" => clients::set_introspection(db, store, &id, true, actor).await,
        "deny-introspection" => clients::set_introspection(db, store, &id, false, actor).await,
        "approve" => clients::set_machine_pending(db, store, &id, false, actor).await,
        _ => return error_page(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    let notice = match done {
        Ok(c) if what == "approve" => format!("{}'s machine access is approved.", c.name),
        Ok(c) if what.ends_with("introspection") => format!("{} {} introspect other apps' tokens.", c.name, if c.can_introspect { "may" } else { "may not" }),
        Ok(c) => format!("{} is now {}.", c.name, c.status),
        Err(e) => e.to_string(),
    };
    console(&t, &p, Some(notice)).await
}

/// An admin's action on an account: `disable`, `enable`, `unlock`,
/// `approve` (a developer request) or `role` (to `role`).
async fn user_action(t: &web::Data<Tessera>, id: &str, what: &str, role: &str, actor: &str) -> Result<users::User, Error> {
    let (db, store, actor) = (&t.db, t.store.as_ref(), Some(actor));
    match what {
        "disable" => {
            // The apps its sessions signed in to hear of it (back-channel logout), in the background.
            let (user, notices) = crate::oauth::logout::disable_user(db, store, id, actor).await?;
            let t = t.clone().into_inner();
            actix_web::rt::spawn(async move { crate::oauth::logout::deliver(&t.db, &t.issuer, &t.outbound, notices).await });
            Ok(user)
        }
        "enable" => users::set_disabled(db, store, id, false, actor).await,
        "unlock" => users::unlock(db, store, id, actor).await,
        "approve" => users::approve_developer(db, store, id, actor).await,
        "role" => users::set_role(db, store, id, role, actor).await,
        _ => Err(Error::NotFound(format!("action {what}"))),
    }
}

/// `POST /admin/users/{id}/disable|enable|unlock|approve|role`.
pub async fn user_form(t: web::Data<Tessera>, p: Console, f: CsrfForm, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, what) = path.into_inner();
    if id == p.user.user_id && (what == "disable" || what == "role") {
        return console(&t, &p, Some("You cannot disable yourself or change your own role.".into())).await;
    }
    let notice = match user_action(&t, &id, &what, f.get("role"), &p.user.user_id).await {
        Ok(u) if what == "unlock" => format!("{} may sign in again.", u.username),
        Ok(u) => format!("{} is {}{}.", u.username, if u.disabled { "disabled, " } else { "" }, u.role),
        Err(e) => e.to_string(),
    };
    console(&t, &p, Some(notice)).await
}

/// `POST /admin/scopes`.
pub async fn add_scope(t: web::Data<Tessera>, p: Console, f: CsrfForm) -> HttpResponse {
    let notice = match registration::add_scope(&t.db, f.get("name"), f.get("description"), f.get("machine_open") == "1").await {
        Ok(sc) => format!("Scope {} added.", sc.name),
        Err(e) => e.to_string(),
    };
    console(&t, &p, Some(notice)).await
}

/// `POST /admin/registration-tokens`: an initial access token for
/// `/register` (RFC 7591), shown once in the notice.
pub async fn create_registration_token(t: web::Data<Tessera>, p: Console, f: CsrfForm) -> HttpResponse {
    let hours: i64 = f.get("hours").parse().unwrap_or(1);
    let uses: i64 = f.get("uses").parse().unwrap_or(1);
    let notice = match registration_tokens::create(&t.db, hours.saturating_mul(3600), uses, Some(p.user.user_id.as_str())).await {
        Ok(i) => format!("Registration token (shown once, {} use(s), {} h): {}", i.uses, hours, i.token),
        Err(e) => e.to_string(),
    };
    console(&t, &p, Some(notice)).await
}

/// `POST /admin/keys/rotate`.
pub async fn rotate_keys(t: web::Data<Tessera>, p: Console, _f: CsrfForm) -> HttpResponse {
    let notice = match t.keys.rotate(false).await {
        Ok(r) => format!("Rotated: {} signs now, {} is the next key.", r.current, r.next),
        Err(e) => e.to_string(),
    };
    console(&t, &p, Some(notice)).await
}

// ---- JSON API ----

pub struct AdminApi;

impl Protected for AdminApi {
    const RESOURCE: Resource = Resource::AdminApi;
    const FORM_BODY: bool = false;
}

type Api = BearerToken<AdminApi>;

/// Who acted, for the audit trail: the admin token's client.
fn actor(b: &Api) -> String {
    format!("client:{}", b.0.client.client_id)
}

fn ok(b: &Api, v: impl serde::Serialize) -> HttpResponse {
    super::error::ok_no_store(&b.0.rate).json(v)
}

fn created(b: &Api, v: impl serde::Serialize) -> HttpResponse {
    super::error::ok_no_store(&b.0.rate).status(StatusCode::CREATED).json(v)
}

/// A JSON body if the request has one, else the defaults.
async fn optional_json<T: serde::de::DeserializeOwned + Default>(t: &Tessera, req: &HttpRequest, body: web::Payload) -> Result<T, OAuthError> {
    match req.headers().contains_key(header::CONTENT_TYPE) {
        true => read_json(req, body, t.cfg.max_body_bytes).await,
        false => Ok(T::default()),
    }
}

pub async fn api_clients(t: web::Data<Tessera>, b: Api) -> Result<HttpResponse, OAuthError> {
    Ok(ok(&b, clients::list(&t.db, None).await?))
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
    #[serde(default)]
    allowed_origins: Vec<String>,
    owner: Option<String>,
    tier: Option<String>,
    rate_limit: Option<i64>,
    #[serde(default)]
    can_introspect: bool,
    #[serde(default)]
    pkce_optional: bool,
    #[serde(default)]
    require_par: bool,
    /// `private_key_jwt`, with `jwks` (a JWK Set object) or `jwks_uri`.
    auth_method: Option<String>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    #[serde(default)]
    require_dpop: bool,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    /// `fapi2`: hold the client to the FAPI 2.0 Security Profile.
    profile: Option<String>,
}

#[derive(Deserialize)]
pub struct ScopeJson {
    name: String,
    description: String,
    #[serde(default)]
    machine_open: bool,
}

fn confidential() -> String {
    "confidential".into()
}

impl From<NewClientJson> for NewClient {
    fn from(j: NewClientJson) -> NewClient {
        NewClient {
            name: j.name,
            description: j.description,
            client_type: j.client_type,
            grant_types: j.grant_types,
            scopes: j.scopes,
            redirect_uris: j.redirect_uris,
            allowed_origins: j.allowed_origins,
            owner_user_id: j.owner,
            tier: j.tier,
            rate_limit: j.rate_limit,
            can_introspect: j.can_introspect,
            pkce_optional: j.pkce_optional,
            machine_pending: false,
            require_par: j.require_par,
            auth_method: j.auth_method,
            jwks: j.jwks.map(|v| v.to_string()),
            jwks_uri: j.jwks_uri,
            require_dpop: j.require_dpop,
            post_logout_redirect_uris: j.post_logout_redirect_uris,
            backchannel_logout_uri: j.backchannel_logout_uri,
            profile: j.profile,
            ..Default::default()
        }
    }
}

pub async fn api_create_client(t: web::Data<Tessera>, b: Api, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let j: NewClientJson = read_json(&req, body, t.cfg.max_body_bytes).await?;
    Ok(created(&b, registration::register(&t.db, j.into(), Some(&actor(&b))).await?))
}

pub async fn api_client(t: web::Data<Tessera>, b: Api, path: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    Ok(ok(&b, clients::get(&t.db, &path).await?))
}

/// What `PATCH /admin/api/clients/{id}` may change; what is absent stays.
#[derive(Deserialize)]
pub struct ClientChangeJson {
    name: Option<String>,
    description: Option<String>,
    redirect_uris: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    tier: Option<String>,
    rate_limit: Option<i64>,
}

/// `POST /admin/api/clients/{id}/security` `{"require_par", "require_dpop", "profile", "jwks_uri"}`.
pub async fn api_secure_client(t: web::Data<Tessera>, b: Api, path: web::Path<String>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let j: clients::Security = read_json(&req, body, t.cfg.max_body_bytes).await?;
    Ok(ok(&b, registration::secure(&t.db, t.store.as_ref(), &path, j, Some(&actor(&b))).await?))
}

/// `PATCH /admin/api/clients/{id}`: the same rules as `tessera client update`.
pub async fn api_update_client(t: web::Data<Tessera>, b: Api, path: web::Path<String>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let j: ClientChangeJson = read_json(&req, body, t.cfg.max_body_bytes).await?;
    let c = clients::get(&t.db, &path).await?;
    let keep = clients::Change::keeping(&c);
    let change = clients::Change {
        redirect_uris: j.redirect_uris.unwrap_or(keep.redirect_uris),
        scopes: j.scopes.unwrap_or(keep.scopes),
        allowed_origins: j.allowed_origins.unwrap_or(keep.allowed_origins),
        name: j.name,
        description: j.description,
        tier: j.tier,
        rate_limit: j.rate_limit,
    };
    Ok(ok(&b, registration::update(&t.db, t.store.as_ref(), &c.client_id, change, Some(&actor(&b))).await?))
}

#[derive(Deserialize, Default)]
pub struct ActionJson {
    #[serde(default)]
    reason: String,
    /// rotate-secret: how long the old secret keeps working (0: not at all).
    #[serde(default)]
    grace_secs: i64,
}

/// `POST /admin/api/clients/{id}/suspend|activate|rotate-secret|allow-introspection|deny-introspection|approve`;
/// a suspension may say why (`{"reason": …}`), and only an admin lifts it.
pub async fn api_client_action(t: web::Data<Tessera>, b: Api, path: web::Path<(String, String)>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let (id, what) = path.into_inner();
    let j: ActionJson = optional_json(&t, &req, body).await?;
    let (db, store, actor) = (&t.db, t.store.as_ref(), Some(actor(&b)));
    Ok(match what.as_str() {
        "suspend" => ok(&b, clients::set_status(db, store, &id, StatusChange::Hold { reason: &j.reason }, actor.as_deref()).await?),
        "activate" => ok(&b, clients::set_status(db, store, &id, StatusChange::Release, actor.as_deref()).await?),
        "rotate-secret" => ok(&b, clients::rotate_secret(db, store, &id, j.grace_secs, actor.as_deref()).await?),
        "allow-introspection" => ok(&b, clients::set_introspection(db, store, &id, true, actor.as_deref()).await?),
        "deny-introspection" => ok(&b, clients::set_introspection(db, store, &id, false, actor.as_deref()).await?),
        "approve" => ok(&b, clients::set_machine_pending(db, store, &id, false, actor.as_deref()).await?),
        _ => return Err(Error::NotFound(format!("action {what}")).into()),
    })
}

pub async fn api_delete_client(t: web::Data<Tessera>, b: Api, path: web::Path<String>) -> Result<HttpResponse, OAuthError> {
    clients::delete(&t.db, t.store.as_ref(), &path, Some(&actor(&b))).await?;
    Ok(ok(&b, json!({"deleted": path.as_str()})))
}

pub async fn api_keys(t: web::Data<Tessera>, b: Api) -> Result<HttpResponse, OAuthError> {
    Ok(ok(&b, t.keys.list().await.map_err(Error::from)?))
}

#[derive(Deserialize, Default)]
pub struct RotateJson {
    #[serde(default)]
    force: bool,
}

pub async fn api_rotate_keys(t: web::Data<Tessera>, b: Api, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let j: RotateJson = optional_json(&t, &req, body).await?;
    match t.keys.rotate(j.force).await {
        Ok(r) => Ok(ok(&b, r)),
        Err(e @ crate::keys::KeyError::TooSoon { .. }) => Err(Error::Conflict(e.to_string()).into()),
        Err(e) => Err(Error::from(e).into()),
    }
}

#[derive(Deserialize)]
pub struct RegistrationTokenJson {
    #[serde(default = "an_hour")]
    ttl_secs: i64,
    #[serde(default = "one")]
    uses: i64,
}

fn an_hour() -> i64 {
    3600
}

fn one() -> i64 {
    1
}

impl Default for RegistrationTokenJson {
    fn default() -> Self {
        RegistrationTokenJson { ttl_secs: an_hour(), uses: one() }
    }
}

/// `POST /admin/api/registration-tokens` `{"ttl_secs", "uses"}`: an initial access token (RFC 7591), shown once.
pub async fn api_create_registration_token(t: web::Data<Tessera>, b: Api, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let j: RegistrationTokenJson = optional_json(&t, &req, body).await?;
    Ok(created(&b, registration_tokens::create(&t.db, j.ttl_secs, j.uses, Some(&actor(&b))).await?))
}

pub async fn api_users(t: web::Data<Tessera>, b: Api) -> Result<HttpResponse, OAuthError> {
    Ok(ok(&b, users::list(&t.db).await?))
}

#[derive(Deserialize, Default)]
pub struct UserActionJson {
    #[serde(default)]
    role: String,
}

/// `POST /admin/api/users/{id}/disable|enable|unlock|approve|role` (`{"role": …}`).
pub async fn api_user_action(t: web::Data<Tessera>, b: Api, path: web::Path<(String, String)>, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let (id, what) = path.into_inner();
    let j: UserActionJson = optional_json(&t, &req, body).await?;
    Ok(ok(&b, user_action(&t, &id, &what, &j.role, &actor(&b)).await?))
}

pub async fn api_scopes(t: web::Data<Tessera>, b: Api) -> Result<HttpResponse, OAuthError> {
    Ok(ok(&b, catalogue::list(&t.db).await?))
}

pub async fn api_add_scope(t: web::Data<Tessera>, b: Api, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, OAuthError> {
    let j: ScopeJson = read_json(&req, body, t.cfg.max_body_bytes).await?;
    Ok(created(&b, registration::add_scope(&t.db, &j.name, &j.description, j.machine_open).await?))
}

pub async fn api_audit(t: web::Data<Tessera>, b: Api, req: HttpRequest) -> Result<HttpResponse, OAuthError> {
    let p = crate::oauth::params::Params::parse(req.query_string().as_bytes())?;
    let owned = |k: &str| p.get(k).map(str::to_string);
    let limit = p.get("limit").map(|l| l.parse().map_err(|_| Error::invalid_request("limit must be a number"))).transpose()?;
    let f = audit::Filter::new(p.get("since"), owned("client"), owned("user"), owned("event"), limit).map_err(Error::InvalidRequest)?;
    Ok(ok(&b, audit::list(&t.db, &f).await.map_err(Error::from)?))
}
