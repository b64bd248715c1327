//! The HTTP edge: actix handlers that take typed requests from the
//! extractors in [`extract`], call the protocol code in `crate::oauth` or the
//! registry, and render the answer. No protocol rule lives here, and every
//! error leaves through one type ([`error::OAuthError`] for APIs, pages for
//! browsers).
pub mod account;
pub mod admin;
pub mod authorize;
pub mod chart;
pub mod cors;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod extract;
pub mod form;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod logout;
pub mod pages;
pub mod par;
pub mod portal;
pub mod register;
pub mod revoke;
pub mod signup;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{guard, web, HttpResponse, Resource, Route};

use crate::app::Tessera;
use error::OAuthError;

/// A `GET` route that answers `HEAD` too (the same headers, no body).
fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The methods a resource answers, for `Allow` (RFC 9110 §10.2.1).
fn allow(methods: &[Method]) -> String {
    let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    if methods.contains(&Method::GET) {
        names.push("HEAD");
    }
    names.join(", ")
}

/// A resource at `path` answering `methods`: any other method is a 405 with `Allow`.
fn resource(path: &str, methods: &[Method]) -> Resource {
    let allowed = allow(methods);
    web::resource(path).default_service(web::to(move || {
        let allowed = allowed.clone();
        async move {
            let mut e = OAuthError::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", format!("this endpoint answers {allowed}"));
            e.allow = Some(allowed);
            Err::<HttpResponse, _>(e)
        }
    }))
}

/// Mount every route on an actix `App`.
pub fn configure(t: Arc<Tessera>) -> impl FnOnce(&mut web::ServiceConfig) {
    use Method as M;
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(t))
            .service(resource("/token", &[M::POST]).route(web::post().to(token::token)))
            .service(resource("/revoke", &[M::POST]).route(web::post().to(revoke::revoke)))
            .service(resource("/introspect", &[M::POST]).route(web::post().to(introspect::introspect)))
            .service(resource("/par", &[M::POST]).route(web::post().to(par::push)))
            .service(resource("/device_authorization", &[M::POST]).route(web::post().to(device::start)))
            .service(resource("/register", &[M::POST]).route(web::post().to(register::register)))
            .service(
                resource("/register/{client_id}", &[M::GET, M::PUT, M::DELETE])
                    .route(get().to(register::read))
                    .route(web::put().to(register::replace))
                    .route(web::delete().to(register::delete)),
            )
            .service(resource("/device", &[M::GET, M::POST]).route(get().to(device::page)).route(web::post().to(device::submit)))
            .service(resource("/.well-known/jwks.json", &[M::GET]).route(get().to(jwks::jwks)))
            .service(resource("/.well-known/openid-configuration", &[M::GET]).route(get().to(discovery::openid_configuration)))
            .service(resource("/.well-known/oauth-authorization-server", &[M::GET]).route(get().to(discovery::oauth_authorization_server)))
            .service(resource("/authorize", &[M::GET]).route(get().to(authorize::authorize)))
            .service(resource("/login", &[M::GET, M::POST]).route(get().to(authorize::login_form)).route(web::post().to(authorize::login)))
            .service(resource("/signup", &[M::GET, M::POST]).route(get().to(signup::page)).route(web::post().to(signup::submit)))
            .service(resource("/authorize/consent", &[M::POST]).route(web::post().to(authorize::consent)))
            .service(resource("/logout", &[M::GET, M::POST]).route(get().to(logout::end_session_get)).route(web::post().to(logout::end_session_post)))
            .service(resource("/userinfo", &[M::GET, M::POST]).route(get().to(userinfo::userinfo)).route(web::post().to(userinfo::userinfo)))
            .service(resource("/account", &[M::GET]).route(get().to(account::page)))
            .service(resource("/account/grants/{client_id}/revoke", &[M::POST]).route(web::post().to(account::revoke_form)))
            .service(resource("/account/api/grants", &[M::GET]).route(get().to(account::api_list)))
            .service(resource("/account/api/grants/{client_id}", &[M::DELETE]).route(web::delete().to(account::api_revoke)))
            .service(resource("/portal", &[M::GET]).route(get().to(portal::index)))
            .service(resource("/portal/apps", &[M::POST]).route(web::post().to(portal::create)))
            .service(resource("/portal/apps/{id}", &[M::GET]).route(get().to(portal::show)))
            .service(resource("/portal/apps/{id}/{action}", &[M::POST]).route(web::post().to(portal::action)))
            .service(resource("/admin", &[M::GET]).route(get().to(admin::index)))
            .service(resource("/admin/clients/{id}", &[M::GET]).route(get().to(admin::client)))
            .service(resource("/admin/clients/{id}/{action}", &[M::POST]).route(web::post().to(admin::client_action)))
            .service(resource("/admin/users/{id}/{action}", &[M::POST]).route(web::post().to(admin::user_form)))
            .service(resource("/admin/api/users", &[M::GET]).route(get().to(admin::api_users)))
            .service(resource("/admin/api/users/{id}/{action}", &[M::POST]).route(web::post().to(admin::api_user_action)))
            .service(resource("/admin/scopes", &[M::POST]).route(web::post().to(admin::add_scope)))
            .service(resource("/admin/keys/rotate", &[M::POST]).route(web::post().to(admin::rotate_keys)))
            .service(resource("/admin/registration-tokens", &[M::POST]).route(web::post().to(admin::create_registration_token)))
            .service(resource("/admin/api/registration-tokens", &[M::POST]).route(web::post().to(admin::api_create_registration_token)))
            .service(
                resource("/admin/api/clients", &[M::GET, M::POST])
                    .route(get().to(admin::api_clients))
                    .route(web::post().to(admin::api_create_client)),
            )
            .service(
                resource("/admin/api/clients/{id}", &[M::GET, M::PATCH, M::DELETE])
                    .route(get().to(admin::api_client))
                    .route(web::patch().to(admin::api_update_client))
                    .route(web::delete().to(admin::api_delete_client)),
            )
            .service(resource("/admin/api/clients/{id}/security", &[M::POST]).route(web::post().to(admin::api_secure_client)))
            .service(resource("/admin/api/clients/{id}/{action}", &[M::POST]).route(web::post().to(admin::api_client_action)))
            .service(resource("/admin/api/keys", &[M::GET]).route(get().to(admin::api_keys)))
            .service(resource("/admin/api/keys/rotate", &[M::POST]).route(web::post().to(admin::api_rotate_keys)))
            .service(resource("/admin/api/scopes", &[M::GET, M::POST]).route(get().to(admin::api_scopes)).route(web::post().to(admin::api_add_scope)))
            .service(resource("/admin/api/audit", &[M::GET]).route(get().to(admin::api_audit)))
            .service(resource("/static/tessera.css", &[M::GET]).route(get().to(pages::stylesheet)))
            .service(resource("/metrics", &[M::GET]).route(get().to(metrics)))
            .service(resource("/healthz", &[M::GET]).route(get().to(health::healthz)))
            .service(resource("/readyz", &[M::GET]).route(get().to(health::readyz)));
    }
}

/// Headers every response carries unless a handler set its own; with an
/// https issuer, `Strict-Transport-Security` too (a year; browsers then
/// refuse plain http to this host, so an attacker on the path cannot strip
/// TLS from the login page).
pub fn security_headers(https: bool) -> DefaultHeaders {
    let h = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"));
    match https {
        true => h.add(("Strict-Transport-Security", "max-age=31536000")),
        false => h,
    }
}

/// `GET /metrics`: Prometheus text format. Expose it to your scraper only
/// (`TESSERA_METRICS_BIND` gives it a listener of its own).
pub async fn metrics(t: web::Data<Tessera>) -> HttpResponse {
    let mut body = crate::metrics::METRICS.render();
    let (open, idle, max) = crate::db::pool_stats(&t.db);
    body.push_str(&crate::metrics::render_pool(open, idle, max));
    let now = crate::db::now();
    let current = t.keys.list().await.ok().and_then(|keys| keys.into_iter().find(|k| k.state == crate::keys::STATE_CURRENT));
    if let Some(k) = current {
        let since = k.activated_at.unwrap_or(k.created_at);
        let next = t.cfg.key_rotation.map(|p| since + p.as_secs() as i64 - now);
        body.push_str(&crate::metrics::render_keys(now - since, next));
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
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
    let https = t.cfg.issuer.starts_with("https://");
    let proxies = t.cfg.trusted_proxies.clone();
    let mut s = actix_web::HttpServer::new(move || {
        let tc = t.clone();
        let proxies = proxies.clone();
        actix_web::App::new()
            .wrap_fn(move |req, srv| {
                // CORS (http/cors.rs): only paths that have it, only requests with an Origin.
                use actix_web::dev::Service;
                use futures_util::future::{Either, FutureExt};
                let origin = req.headers().get(actix_web::http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
                let (Some(kind), Some(origin)) = (cors::kind_of(req.path()), origin) else {
                    return Either::Left(srv.call(req).map(|r| r.map(|r| r.map_into_boxed_body())));
                };
                let t = tc.clone();
                let preflight = req.method() == Method::OPTIONS && req.headers().contains_key("access-control-request-method");
                if preflight {
                    return Either::Right(
                        async move {
                            let allowed = cors::allowed(&t, kind, &origin).await;
                            Ok(req.into_response(cors::preflight(kind, &origin, allowed)).map_into_boxed_body())
                        }
                        .boxed_local(),
                    );
                }
                let fut = srv.call(req);
                Either::Right(
                    async move {
                        let mut res = fut.await?;
                        let allowed = cors::allowed(&t, kind, &origin).await;
                        cors::decorate(res.headers_mut(), kind, &origin, allowed);
                        Ok(res.map_into_boxed_body())
                    }
                    .boxed_local(),
                )
            })
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
            .wrap(security_headers(https))
            .wrap_fn(move |req, srv| {
                // The request's id (a trusted proxy's X-Request-Id, or a new
                // one): in every log line and audit event of the request, in
                // the answer, and in the access log line it ends with.
                use actix_web::dev::Service;
                let from_proxy = req.peer_addr().is_some_and(|p| proxies.iter().any(|c| c.contains(p.ip())));
                let given = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| from_proxy && crate::logctx::valid_id(v));
                let id = given.map(str::to_string).unwrap_or_else(crate::logctx::new_id);
                let (method, path, start) = (req.method().to_string(), req.path().to_string(), std::time::Instant::now());
                let fut = srv.call(req);
                crate::logctx::scope(id.clone(), async move {
                    let mut res = fut.await?;
                    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
                        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
                    }
                    let client = crate::logctx::client().unwrap_or_else(|| "-".into());
                    let ms = start.elapsed().as_secs_f64() * 1000.0;
                    log::info!(target: "tessera::access", "{method} {path} {} {ms:.1}ms client={client}", res.status().as_u16());
                    Ok(res)
                })
            })
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
    use super::{allow, refused_on};
    use actix_web::http::Method;

    #[test]
    fn allow_lists_head_beside_get() {
        assert_eq!(allow(&[Method::POST]), "POST");
        assert_eq!(allow(&[Method::GET, Method::POST]), "GET, POST, HEAD");
    }

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
