//! Who may use the admin API: holding `tessera:admin` is not enough. The
//! token must be meant for Tessera (`aud` = the issuer) and be a
//! confidential client's own token or an admin user's token.
use tessera::app::Tessera;
use tessera::oauth::issuer::AccessGrant;
use tessera::registry::clients::NewClient;

use crate::both_backends;
use crate::support::{browser, location_params, machine_client, start, user, Backend, TestServer, REDIRECT, VERIFIER};

both_backends!(holding_the_scope_is_not_enough);

/// A confidential web app that may ask users for `tessera:admin`.
async fn admin_web_app(s: &TestServer) -> (String, String) {
    let c = tessera::oauth::registration::register(
        &s.db,
        NewClient {
            name: "Ops console".into(),
            client_type: "confidential".into(),
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into(), "tessera:admin".into()],
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        },
        Some("test"),
    )
    .await
    .expect("register");
    (c.client.client_id, c.client_secret.expect("secret"))
}

/// A user's token for `tessera:admin` through the code flow of that app.
async fn users_admin_token(s: &TestServer, app: &(String, String), username: &str) -> String {
    let r = s.login_and_consent(&browser(), &s.authorize_url(&app.0, "tessera:admin", &[]), username).await;
    assert_eq!(r.status(), 303);
    let code = location_params(&r)["code"].clone();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let r = s.post_basic("/token", &app.0, &app.1, &form).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn clients_status(s: &TestServer, token: &str) -> (u16, String) {
    let r = s.http.get(s.url("/admin/api/clients")).bearer_auth(token).send().await.unwrap();
    let challenge = r.headers().get("www-authenticate").map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), challenge)
}

async fn holding_the_scope_is_not_enough(b: Backend) {
    let s = start(b).await;
    user(&s.db, "olga", "user").await;
    user(&s.db, "root", "admin").await;
    let app = admin_web_app(&s).await;

    // an ordinary user who consents to the scope gets a token for it, and nothing with it
    let (status, challenge) = clients_status(&s, &users_admin_token(&s, &app, "olga").await).await;
    assert_eq!(status, 403);
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    // an admin's token through the same app works
    assert_eq!(clients_status(&s, &users_admin_token(&s, &app, "root").await).await.0, 200);

    // a machine's token: the scope alone, for the issuer; never by default, never mixed
    let (ops, secret) = machine_client(&s.db, "read:data tessera:admin").await;
    let r = s.post_basic("/token", &ops, &secret, &[("grant_type", "client_credentials")]).await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "read:data", "not granted by default");
    assert_eq!(clients_status(&s, v["access_token"].as_str().unwrap()).await.0, 403);
    let r = s.post_basic("/token", &ops, &secret, &[("grant_type", "client_credentials"), ("scope", "read:data tessera:admin")]).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_scope");
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin"), ("resource", "https://api.example.com")];
    let r = s.post_basic("/token", &ops, &secret, &form).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_target");
    let admin = s.client_credentials(&ops, &secret, Some("tessera:admin")).await;
    let claims = crate::support::verify_offline(&s, &admin, &s.base).await.expect("aud is the issuer");
    assert_eq!(claims["aud"], s.base.as_str());
    assert_eq!(clients_status(&s, &admin).await.0, 200);

    // a token with the scope for another audience is refused (minted here with the deployment's keys)
    let minter = Tessera::open(s.tdb.config(s.port)).await.unwrap();
    let grant = AccessGrant { sub: &ops, client_id: &ops, aud: "https://api.example.com", scope: "tessera:admin", auth_time: None, jkt: None };
    let (elsewhere, _) = minter.issuer.access_token(grant, None).unwrap();
    let (status, challenge) = clients_status(&s, &elsewhere).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");

    // a public app cannot be registered with the scope at all
    let r = s
        .http
        .post(s.url("/admin/api/clients"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "SPA", "type": "public", "grant_types": ["authorization_code"], "scopes": ["openid", "tessera:admin"], "redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("public client cannot hold tessera:admin"));
}
