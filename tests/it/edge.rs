//! The HTTP edge as a client meets it: every `GET` resource answers `HEAD`,
//! a known path called with a method it does not take is 405 with `Allow`,
//! an unknown path is 404.
use crate::support::{start, start_with, Backend, TestDb};

/// Every `GET` resource Tessera serves, as a client may call it.
const GET_PATHS: &[&str] = &[
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/authorize",
    "/login",
    "/userinfo",
    "/account",
    "/account/api/grants",
    "/portal",
    "/portal/apps/x",
    "/admin",
    "/admin/api/clients",
    "/admin/api/clients/x",
    "/admin/api/keys",
    "/admin/api/scopes",
    "/admin/api/audit",
    "/static/tessera.css",
    "/metrics",
    "/healthz",
    "/readyz",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_like_get_without_a_body() {
    let s = start(Backend::Embedded).await;
    for path in GET_PATHS {
        let get = s.http.get(s.url(path)).send().await.unwrap();
        let head = s.http.head(s.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert!(![404, 405].contains(&head.status().as_u16()), "HEAD {path}: {}", head.status());
        assert_eq!(head.headers().get("content-type"), get.headers().get("content-type"), "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
    }
    // the JWKS is the one this matters most for: verifiers revalidate it
    let r = s.http.head(s.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("etag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_405_with_allow() {
    let s = start(Backend::Embedded).await;
    for (method, path, allow) in [
        ("GET", "/token", "POST"),
        ("PUT", "/revoke", "POST"),
        ("GET", "/introspect", "POST"),
        ("POST", "/.well-known/jwks.json", "GET, HEAD"),
        ("DELETE", "/.well-known/openid-configuration", "GET, HEAD"),
        ("POST", "/authorize", "GET, HEAD"),
        ("PUT", "/userinfo", "GET, POST, HEAD"),
        ("PATCH", "/admin/api/clients", "GET, POST, HEAD"),
        ("GET", "/account/api/grants/x", "DELETE"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = s.http.request(m, s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error_description"].as_str().unwrap().contains(allow), "{method} {path}: {v}");
    }
    let r = s.http.get(s.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("allow").is_none());
}

/// `Strict-Transport-Security` on every response when the issuer is https
/// (the TLS terminator in front forwards plain http), never otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_only_with_an_https_issuer() {
    let https = start_with(TestDb::new(Backend::Embedded).await, |c| c.issuer = c.issuer.replace("http://", "https://")).await;
    for path in ["/healthz", "/.well-known/jwks.json", "/login", "/token", "/no/such/thing"] {
        let r = https.http.get(https.url(path)).send().await.unwrap();
        assert_eq!(r.headers().get("strict-transport-security").map(|v| v.to_str().unwrap()), Some("max-age=31536000"), "{path}");
    }
    let plain = start(Backend::Embedded).await;
    let r = plain.http.get(plain.url("/healthz")).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}

/// Every answer carries a request id, and the request ends with an access
/// line naming method, path, status and client (never the query, where a
/// token could hide). A proxy's id is kept only from a trusted proxy, and
/// reaches the audit trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_and_access_lines() {
    let s = crate::support::start(crate::support::Backend::Embedded).await;
    let (id, secret) = crate::support::machine_client(&s.db, "read:data").await;
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(tessera::logctx::valid_id(&rid));
    let logs = crate::support::captured_logs();
    let line = logs.iter().find(|l| l.contains("tessera::access") && l.contains(&format!("client={id}"))).expect("an access line for the token request");
    assert!(line.contains("POST /token 200"), "{line}");
    // from an untrusted peer, a given id is replaced
    let r = s.http.get(s.url("/healthz?x=secret-looking")).header("x-request-id", "from-anyone").send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "from-anyone");
    assert!(!crate::support::captured_logs().iter().any(|l| l.contains("tessera::access") && l.contains("secret-looking")), "no query in access lines");

    // behind a trusted proxy the proxy's id is kept, and the audit trail has it
    let s = crate::support::start_with(crate::support::TestDb::new(crate::support::Backend::Embedded).await, |c| {
        c.trusted_proxies = tessera::net::Cidr::parse_list("127.0.0.0/8").unwrap();
    })
    .await;
    let b = crate::support::browser();
    let html = b.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", crate::support::hidden(&html, "csrf")), ("authz", String::new()), ("username", "nobody".into()), ("password", "wrong-password".into())];
    let r = b.post(s.url("/login")).header("x-request-id", "proxy-req-42").form(&form).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "proxy-req-42");
    assert_eq!(crate::support::count_where(&s.db, "audit_events", "event = 'login.failed' AND detail LIKE '%proxy-req-42%'").await, 1);
}
