//! Pushed authorization requests (RFC 9126): the client pushes its request,
//! authenticated; the browser carries a request_uri that works once, for
//! that client, for a minute.
use tessera::registry::clients::NewClient;

use crate::both_backends;
use crate::support::{browser, location_params, start, user, Backend, TestServer, CHALLENGE, REDIRECT, VERIFIER};

both_backends!(a_pushed_request_stands_for_its_parameters_once);

async fn web_app(s: &TestServer, require_par: bool) -> (String, String) {
    let n = NewClient {
        name: "Bank app".into(),
        client_type: "confidential".into(),
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["openid".into(), "read:data".into()],
        redirect_uris: vec![REDIRECT.into()],
        require_par,
        ..Default::default()
    };
    let c = tessera::oauth::registration::register(&s.db, n, None).await.unwrap();
    (c.client.client_id, c.client_secret.unwrap())
}

async fn push(s: &TestServer, id: &str, secret: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid read:data"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        form.retain(|(kk, _)| kk != k);
        form.push((k, v));
    }
    s.post_basic("/par", id, secret, &form).await
}

fn authorize_url(s: &TestServer, client_id: &str, request_uri: &str) -> String {
    let mut u = url::Url::parse(&s.url("/authorize")).unwrap();
    u.query_pairs_mut().append_pair("client_id", client_id).append_pair("request_uri", request_uri);
    u.to_string()
}

async fn a_pushed_request_stands_for_its_parameters_once(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (id, secret) = web_app(&s, false).await;
    let meta: serde_json::Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["pushed_authorization_request_endpoint"], s.url("/par"));

    let r = push(&s, &id, &secret, &[]).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    let request_uri = v["request_uri"].as_str().unwrap().to_string();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(v["expires_in"], 60);

    // the browser carries only client_id and request_uri
    let r = s.login_and_consent(&browser(), &authorize_url(&s, &id, &request_uri), "alice").await;
    assert_eq!(r.status(), 303);
    let q = location_params(&r);
    assert_eq!(q["state"], "st4te");
    let form = [("grant_type", "authorization_code"), ("code", q["code"].as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    assert_eq!(s.post_basic("/token", &id, &secret, &form).await.status(), 200);

    // once only
    let r = browser().get(authorize_url(&s, &id, &request_uri)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown, used or expired"));
    // for its own client only
    let (other, _) = web_app(&s, false).await;
    let fresh = push(&s, &id, &secret, &[]).await.json::<serde_json::Value>().await.unwrap()["request_uri"].as_str().unwrap().to_string();
    assert_eq!(browser().get(authorize_url(&s, &other, &fresh)).send().await.unwrap().status(), 400);

    // the pushing client hears what is wrong, as JSON; a stranger is not heard at all
    let r = push(&s, &id, &secret, &[("redirect_uri", "https://evil.example/cb")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request");
    let r = push(&s, &id, &secret, &[("scope", "read:billing")]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_scope");
    assert_eq!(push(&s, &id, "wrong secret", &[]).await.status(), 401);

    // a client registered with --require-par cannot skip it
    let (strict, strict_secret) = web_app(&s, true).await;
    let r = browser().get(s.authorize_url(&strict, "openid read:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("push its authorization request"));
    let pushed = push(&s, &strict, &strict_secret, &[]).await.json::<serde_json::Value>().await.unwrap()["request_uri"].as_str().unwrap().to_string();
    let r = browser().get(authorize_url(&s, &strict, &pushed)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the login page");
}
