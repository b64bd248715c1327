//! The HTTP edge: actix handlers that parse a request, call the protocol
//! code in `crate::oauth`, and render the answer. No rules live here.
pub mod account;
pub mod admin;
pub mod authorize;
pub mod discovery;
pub mod error;
pub mod form;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod revoke;
pub mod pages;
pub mod portal;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse};

use crate::app::Tessera;
use error::OAuthError;

/// Mount every route on an actix `App`.
pub fn configure(t: Arc<Tessera>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(t))
            .route("/token", web::post().to(token::token))
            .route("/revoke", web::post().to(revoke::revoke))
            .route("/introspect", web::post().to(introspect::introspect))
            .route("/.well-known/jwks.json", web::get().to(jwks::jwks))
            .route("/.well-known/openid-configuration", web::get().to(discovery::openid_configuration))
            .route("/.well-known/oauth-authorization-server", web::get().to(discovery::oauth_authorization_server))
            .route("/authorize", web::get().to(authorize::authorize))
            .route("/login", web::get().to(authorize::login_form))
            .route("/login", web::post().to(authorize::login))
            .route("/authorize/consent", web::post().to(authorize::consent))
            .route("/logout", web::post().to(authorize::logout))
            .route("/userinfo", web::get().to(userinfo::get))
            .route("/userinfo", web::post().to(userinfo::post))
            .route("/account", web::get().to(account::page))
            .route("/account/grants/{client_id}/revoke", web::post().to(account::revoke_form))
            .route("/account/api/grants", web::get().to(account::api_list))
            .route("/account/api/grants/{client_id}", web::delete().to(account::api_revoke))
            .route("/portal", web::get().to(portal::index))
            .route("/portal/apps", web::post().to(portal::create))
            .route("/portal/apps/{id}", web::get().to(portal::show))
            .route("/portal/apps/{id}/{action}", web::post().to(portal::action))
            .route("/admin", web::get().to(admin::index))
            .route("/admin/clients/{id}/{action}", web::post().to(admin::client_action))
            .route("/admin/scopes", web::post().to(admin::add_scope))
            .route("/admin/keys/rotate", web::post().to(admin::rotate_keys))
            .route("/admin/api/clients", web::get().to(admin::api_clients))
            .route("/admin/api/clients", web::post().to(admin::api_create_client))
            .route("/admin/api/clients/{id}", web::get().to(admin::api_client))
            .route("/admin/api/clients/{id}", web::delete().to(admin::api_delete_client))
            .route("/admin/api/clients/{id}/{action}", web::post().to(admin::api_client_action))
            .route("/admin/api/keys", web::get().to(admin::api_keys))
            .route("/admin/api/keys/rotate", web::post().to(admin::api_rotate_keys))
            .route("/admin/api/scopes", web::get().to(admin::api_scopes))
            .route("/admin/api/scopes", web::post().to(admin::api_add_scope))
            .route("/admin/api/audit", web::get().to(admin::api_audit))
            .route("/static/tessera.css", web::get().to(pages::stylesheet))
            .route("/metrics", web::get().to(metrics))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz));
    }
}

/// Headers every response carries unless a handler set its own.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"))
}

/// `GET /metrics`: Prometheus text format. Expose it to your scraper only
/// (`TESSERA_METRICS_BIND` gives it a listener of its own).
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(crate::metrics::METRICS.render())
}

/// 404 as JSON.
pub async fn not_found() -> Result<HttpResponse, OAuthError> {
    Err(OAuthError::new(actix_web::http::StatusCode::NOT_FOUND, "not_found", "no such endpoint"))
}

/// What the metrics listener serves when there is one: the scrape and the probes.
const METRICS_LISTENER_PATHS: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// Whether a request to `path` is refused on the listener it arrived at: with
/// a metrics listener, `/metrics` is served there and nowhere else, and that
/// listener serves nothing but [`METRICS_LISTENER_PATHS`].
pub fn refused_on(path: &str, on_metrics_listener: bool, metrics_listener: bool) -> bool {
    match (metrics_listener, on_metrics_listener) {
        (false, _) => false,
        (true, true) => !METRICS_LISTENER_PATHS.contains(&path),
        (true, false) => path == "/metrics",
    }
}

/// Build and bind the HTTP server on already-bound listeners: the main one
/// and, optionally, one for `/metrics` (`TESSERA_METRICS_BIND`).
pub fn server(
    t: Arc<Tessera>,
    listener: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let metrics_addr = metrics.as_ref().map(|l| l.local_addr()).transpose()?;
    let mut s = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service;
                use actix_web::ResponseError;
                use futures_util::future::{ready, Either};
                // The listener's own address (actix keeps one AppConfig per listener),
                // so a wildcard bind such as 0.0.0.0:9090 compares equal too.
                let on_metrics = Some(req.app_config().local_addr()) == metrics_addr;
                if refused_on(req.path(), on_metrics, metrics_addr.is_some()) {
                    let res = OAuthError::new(actix_web::http::StatusCode::NOT_FOUND, "not_found", "no such endpoint").error_response();
                    return Either::Left(ready(Ok(req.into_response(res).map_into_boxed_body())));
                }
                let endpoint = crate::metrics::endpoint_of(req.path());
                let start = std::time::Instant::now();
                let fut = srv.call(req);
                Either::Right(async move {
                    let res = fut.await;
                    crate::metrics::METRICS.observe(endpoint, start.elapsed());
                    res.map(|r| r.map_into_boxed_body())
                })
            })
            .wrap(security_headers())
            .configure(configure(t.clone()))
            .default_service(web::to(not_found))
    })
    .listen(listener)?;
    if let Some(m) = metrics {
        s = s.listen(m)?;
    }
    s = s.shutdown_timeout(10);
    if let Some(n) = workers {
        s = s.workers(n);
    }
    Ok(s.run())
}

#[cfg(test)]
mod tests {
    use super::refused_on;

    #[test]
    fn metrics_listener_split() {
        // One listener: everything everywhere.
        assert!(!refused_on("/metrics", false, false));
        assert!(!refused_on("/token", false, false));
        // With a metrics listener: /metrics only there, and only the scrape and probes there.
        assert!(refused_on("/metrics", false, true));
        assert!(!refused_on("/metrics", true, true));
        assert!(!refused_on("/readyz", true, true));
        assert!(!refused_on("/healthz", false, true));
        assert!(refused_on("/token", true, true));
        assert!(!refused_on("/token", false, true));
    }
}
