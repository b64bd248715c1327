//! Server-rendered pages: the template environment (templates compiled into
//! the binary), the session cookie, and the headers every page carries.
use std::sync::OnceLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use minijinja::Environment;
use serde_json::Value;

use crate::app::Tessera;
use crate::session::{Session, COOKIE, SECURE_COOKIE};

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // Autoescaping is on for .html templates.
        for (name, src) in [
            ("layout.html", include_str!("../../templates/layout.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("consent.html", include_str!("../../templates/consent.html")),
            ("device.html", include_str!("../../templates/device.html")),
            ("signup.html", include_str!("../../templates/signup.html")),
            ("logout.html", include_str!("../../templates/logout.html")),
            ("error.html", include_str!("../../templates/error.html")),
            ("account.html", include_str!("../../templates/account.html")),
            ("portal.html", include_str!("../../templates/portal.html")),
            ("portal_app.html", include_str!("../../templates/portal_app.html")),
            ("admin.html", include_str!("../../templates/admin.html")),
            ("admin_client.html", include_str!("../../templates/admin_client.html")),
            ("client_settings.html", include_str!("../../templates/client_settings.html")),
        ] {
            if let Err(err) = e.add_template(name, src) {
                log::error!("template {name}: {err}");
            }
        }
        e
    })
}

pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

/// Render a template into a page response.
pub fn render(status: StatusCode, name: &str, ctx: Value) -> HttpResponse {
    let html = env().get_template(name).and_then(|t| t.render(&ctx));
    match html {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .body(body),
        Err(e) => {
            log::error!("rendering {name}: {e}");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
}

/// An error page: for browser errors that must not redirect.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(status, "error.html", serde_json::json!({"title": title, "message": message}))
}

/// The page for a failure that is not the user's: the cause goes to the log,
/// `message` (saying what did not happen) to the page.
pub fn unavailable(e: crate::error::Error, doing: &str, message: &str) -> HttpResponse {
    log::error!("{doing}: {e}");
    error_page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", message)
}

/// The session cookie's name: `__Host-` prefixed with an https issuer.
fn cookie_name(t: &Tessera) -> &'static str {
    if t.cfg.issuer.starts_with("https://") {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// The request's session, or a fresh anonymous one. A signed-in session
/// counts only while the token store still has it (not logged out, not
/// revoked); otherwise it is anonymous.
pub async fn session(t: &Tessera, req: &HttpRequest) -> Session {
    let now = crate::db::now();
    let Some(s) = req.cookie(cookie_name(t)).and_then(|c| Session::decode(c.value(), &t.session_key, now)) else {
        return Session::anonymous(now);
    };
    let Some(uid) = s.uid.as_deref() else { return s };
    let live = match s.store_key() {
        Some(k) => t.store.session_user(&k, now).await.unwrap_or_else(|e| {
            log::warn!("reading a session: {e}");
            None
        }),
        None => None,
    };
    match live.as_deref() == Some(uid) {
        true => s,
        false => Session::anonymous(now),
    }
}

/// Record a new signed-in session in the token store.
pub async fn begin_session(t: &Tessera, s: &Session) -> crate::error::Result<()> {
    match (s.store_key(), s.uid.as_deref()) {
        (Some(k), Some(uid)) => Ok(t.store.put_session(&k, uid, s.exp).await?),
        _ => Ok(()),
    }
}

/// End a signed-in session in the token store (logout).
pub async fn end_session(t: &Tessera, s: &Session) -> crate::error::Result<()> {
    match s.store_key() {
        Some(k) => Ok(t.store.end_session(&k).await?),
        None => Ok(()),
    }
}

/// The cookie that stores `s`: HttpOnly, SameSite=Lax, Secure (and `__Host-`) on https.
pub fn session_cookie(t: &Tessera, s: &Session) -> Cookie<'static> {
    Cookie::build(cookie_name(t), s.encode(&t.session_key))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(t.cfg.issuer.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::seconds(crate::session::LIFETIME_SECS))
        .finish()
}

/// A 303 to `location` (after a POST) or 302 (after a GET).
pub fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The logged-in user of the session, if the account still exists and is
/// not disabled. A database that cannot answer is the 503 page, never
/// "signed out" (which would send the user to a login that cannot work).
pub async fn current_user(t: &Tessera, s: &Session) -> Result<Option<crate::registry::users::User>, HttpResponse> {
    let Some(uid) = s.uid.as_deref() else { return Ok(None) };
    match crate::registry::users::get(&t.db, uid).await {
        Ok(u) => Ok(u.filter(|u| !u.disabled)),
        Err(e) => Err(unavailable(e, "reading the signed-in user", "The service is unavailable.")),
    }
}

/// Human time for pages: "2026-11-23 10:40 UTC".
pub fn when(ts: Option<i64>) -> String {
    match ts.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
        Some(d) => d.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "never".into(),
    }
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/tessera.css"))
}
