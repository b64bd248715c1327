//! CORS for single-page apps: public documents for every origin; the token,
//! revocation and userinfo endpoints for the origins clients registered; a
//! public client's token request only from its own origins; pages never.
use tessera::registry::clients::NewClient;

use crate::both_backends;
use crate::support::{start, user, Backend, TestServer, REDIRECT};

both_backends!(browsers_get_cors_only_where_and_for_whom_it_is_meant);

const SPA: &str = "https://spa.example.com";
const OTHER: &str = "https://other.example.com";

async fn spa_client(s: &TestServer, name: &str, origin: &str) -> String {
    let n = NewClient {
        name: name.into(),
        client_type: "public".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "read:data".into()],
        redirect_uris: vec![REDIRECT.into()],
        allowed_origins: vec![origin.into()],
        ..Default::default()
    };
    tessera::oauth::registration::register(&s.db, n, None).await.unwrap().client.client_id
}

fn acao(r: &reqwest::Response) -> Option<String> {
    r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string())
}

async fn preflight(s: &TestServer, path: &str, origin: &str) -> reqwest::Response {
    s.http
        .request(reqwest::Method::OPTIONS, s.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

async fn browsers_get_cors_only_where_and_for_whom_it_is_meant(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let spa = spa_client(&s, "SPA", SPA).await;
    spa_client(&s, "Other SPA", OTHER).await;

    // public documents: any origin
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"] {
        let r = s.http.get(s.url(path)).header("origin", "https://anyone.example").send().await.unwrap();
        assert_eq!(acao(&r).as_deref(), Some("*"), "{path}");
        let r = preflight(&s, path, "https://anyone.example").await;
        assert_eq!((r.status().as_u16(), acao(&r).as_deref()), (204, Some("*")), "{path}");
    }

    // the token endpoint: a registered origin's preflight is answered, an unknown one's is not
    let r = preflight(&s, "/token", SPA).await;
    assert_eq!(r.status(), 204);
    assert_eq!(acao(&r).as_deref(), Some(SPA));
    assert_eq!(r.headers()["vary"], "Origin");
    assert!(r.headers()["access-control-allow-headers"].to_str().unwrap().contains("Content-Type"));
    let r = preflight(&s, "/token", "https://evil.example").await;
    assert_eq!(acao(&r), None, "an origin no client registered gets no CORS headers");

    // the SPA refreshes from its origin: the answer is readable there
    let tok = s.tokens_for(&spa, "alice", "openid read:data").await;
    let refresh = |origin: &'static str, token: String| {
        let (http, url, spa) = (s.http.clone(), s.url("/token"), spa.clone());
        async move {
            http.post(url).header("origin", origin).form(&[("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", &spa)]).send().await.unwrap()
        }
    };
    let r = refresh(SPA, tok["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(acao(&r).as_deref(), Some(SPA));
    let v: serde_json::Value = r.json().await.unwrap();
    // from another client's origin the public client is refused (readable there, it is registered)
    let r = refresh(OTHER, v["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(acao(&r).as_deref(), Some(OTHER));
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "unauthorized_client");

    // userinfo from the SPA's origin
    let access = v["access_token"].as_str().unwrap();
    let r = s.http.get(s.url("/userinfo")).header("origin", SPA).bearer_auth(access).send().await.unwrap();
    assert_eq!((r.status().as_u16(), acao(&r).as_deref()), (200, Some(SPA)));

    // pages never
    for path in ["/login", "/account", "/portal", "/authorize"] {
        let r = s.http.get(s.url(path)).header("origin", SPA).send().await.unwrap();
        assert_eq!(acao(&r), None, "{path}");
    }
}
