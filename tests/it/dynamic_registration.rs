//! Apps that register themselves (RFC 7591) and manage their registration
//! (RFC 7592): initial access tokens, the same rules as every registration,
//! refusals that write nothing, the registration access token.
use serde_json::{json, Value};
use tessera::config::RegistrationMode;

use crate::both_backends;
use crate::cli::{json as cli_json, tessera};
use crate::support::{browser, count_rows, location_params, start, start_with, user, Backend, TestDb, TestServer, REDIRECT, VERIFIER};

both_backends!(a_registration_lives_and_ends_under_its_tokens, open_and_closed_registration);

async fn post_register(s: &TestServer, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = s.http.post(s.url("/register")).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn error_of(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().await.unwrap();
    assert!(v["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    v["error"].as_str().unwrap().to_string()
}

async fn a_registration_lives_and_ends_under_its_tokens(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let meta: Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["registration_endpoint"], s.url("/register"));
    let app = json!({
        "client_name": "Calendar sync", "redirect_uris": [REDIRECT], "scope": "openid read:data",
        "grant_types": ["authorization_code", "refresh_token"], "client_uri": "https://calendar.example.com",
        "token_endpoint_auth_method": "client_secret_basic", "contacts": ["ops@calendar.example.com"],
    });
    let clients_before = count_rows(&s.db, "clients").await;

    // without an initial access token: 401 with a Bearer challenge
    let r = post_register(&s, None, &app).await;
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(error_of(r, 401).await, "invalid_token");
    // the CLI makes one, good for one registration
    let issued = cli_json(&tessera(&s, &["registration-token", "create", "--ttl", "1h", "--uses", "1", "--json"]));
    let token = issued["token"].as_str().unwrap().to_string();
    assert_eq!(issued["uses"], 1);

    // refusals name what is wrong, write nothing, and do not spend the token
    let mut bad = app.clone();
    bad["redirect_uris"] = json!(["javascript:alert(1)"]);
    assert_eq!(error_of(post_register(&s, Some(&token), &bad).await, 400).await, "invalid_redirect_uri");
    let mut bad = app.clone();
    bad["scope"] = json!("openid launch:missiles");
    assert_eq!(error_of(post_register(&s, Some(&token), &bad).await, 400).await, "invalid_client_metadata");
    let mut bad = app.clone();
    bad["grant_types"] = json!(["implicit"]);
    assert_eq!(error_of(post_register(&s, Some(&token), &bad).await, 400).await, "invalid_client_metadata");
    assert_eq!(count_rows(&s.db, "clients").await, clients_before);

    // registered: the secret and the registration access token, once
    let r = post_register(&s, Some(&token), &app).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let reg: Value = r.json().await.unwrap();
    let (id, secret, rat) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap(), reg["registration_access_token"].as_str().unwrap());
    assert!(secret.starts_with("tsr_"));
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["registration_client_uri"], s.url(&format!("/register/{id}")));
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(reg["client_uri"], "https://calendar.example.com");
    assert_eq!(reg["scope"], "openid read:data");
    // the token is used up
    assert_eq!(error_of(post_register(&s, Some(&token), &app).await, 401).await, "invalid_token");
    // owned by no developer, marked as dynamically registered, its token stored hashed
    let c = tessera::registry::clients::get(&s.db, id).await.unwrap();
    assert!(c.dynamic && c.owner_user_id.is_none());
    assert_eq!(c.registration_token_hash.as_deref(), Some(tessera::crypto::digest(rat).as_str()));

    // the app works: a user signs in, the code is exchanged with the secret
    let r = s.login_and_consent(&browser(), &s.authorize_url(id, "openid read:data", &[]), "alice").await;
    let code = location_params(&r)["code"].clone();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    assert_eq!(s.post_basic("/token", id, secret, &form).await.status(), 200);

    // RFC 7592: read with the registration access token only
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let r = s.http.get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let read: Value = r.json().await.unwrap();
    assert_eq!((read["client_id"].as_str(), read["client_name"].as_str()), (Some(id), Some("Calendar sync")));
    assert!(read.get("client_secret").is_none() && read.get("registration_access_token").is_none());
    assert_eq!(error_of(s.http.get(uri).bearer_auth(&token).send().await.unwrap(), 401).await, "invalid_token");
    assert_eq!(error_of(s.http.get(uri).send().await.unwrap(), 401).await, "invalid_token");
    let (other, _) = crate::support::app(&s.db, "public", "openid").await;
    let other_uri = s.url(&format!("/register/{other}"));
    assert_eq!(error_of(s.http.get(&other_uri).bearer_auth(rat).send().await.unwrap(), 401).await, "invalid_token");

    // update: name, redirect URIs and scopes change; grant types do not
    let mut changed = app.clone();
    changed["client_id"] = json!(id);
    changed["client_name"] = json!("Calendar sync 2");
    changed["redirect_uris"] = json!([REDIRECT, "https://calendar.example.com/cb"]);
    let r = s.http.put(uri).bearer_auth(rat).json(&changed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["client_name"], "Calendar sync 2");
    assert_eq!(v["redirect_uris"].as_array().unwrap().len(), 2);
    let mut widen = changed.clone();
    widen["grant_types"] = json!(["authorization_code"]);
    assert_eq!(error_of(s.http.put(uri).bearer_auth(rat).json(&widen).send().await.unwrap(), 400).await, "invalid_client_metadata");
    let mut anonymous = changed.clone();
    anonymous.as_object_mut().unwrap().remove("client_id");
    assert_eq!(error_of(s.http.put(uri).bearer_auth(rat).json(&anonymous).send().await.unwrap(), 400).await, "invalid_client_metadata");
    assert_eq!(tessera::registry::clients::get(&s.db, id).await.unwrap().name, "Calendar sync 2", "refused updates changed nothing");

    // the console shows it as dynamically registered
    user(&s.db, "root", "admin").await;
    let admin = crate::web::signed_in(&s, "root").await;
    let console = admin.get(s.url("/admin")).send().await.unwrap().text().await.unwrap();
    assert!(console.contains("Calendar sync 2") && console.contains("dynamically registered"));

    // deregistered: gone, and its credentials with it
    let r = s.http.delete(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(error_of(s.http.get(uri).bearer_auth(rat).send().await.unwrap(), 401).await, "invalid_token");
    let r = s.post_basic("/token", id, secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 401);
}

async fn open_and_closed_registration(b: Backend) {
    // open: anyone may register, within a budget per address
    let s = start_with(TestDb::new(b).await, |c| c.registration = RegistrationMode::Open).await;
    let spa = json!({"client_name": "Notes SPA", "redirect_uris": ["http://127.0.0.1:5173/cb"], "token_endpoint_auth_method": "none"});
    let r = post_register(&s, None, &spa).await;
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    assert!(reg.get("client_secret").is_none(), "a public client has no secret: {reg}");
    assert_eq!(reg["scope"], "openid");
    // a machine app whose scopes are not open to machines waits for an admin, as in the portal
    let machine = json!({"client_name": "Exporter", "grant_types": ["client_credentials"], "scope": "read:data"});
    let reg: Value = post_register(&s, None, &machine).await.json().await.unwrap();
    let r = s.post_basic("/token", reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap(), &[("grant_type", "client_credentials")]).await;
    assert_eq!(error_of(r, 400).await, "unauthorized_client");
    let mut answers = vec![];
    for _ in 0..tessera::oauth::dynamic_registration::REQUESTS_PER_MIN_ADDRESS {
        let r = post_register(&s, None, &json!({"redirect_uris": ["javascript:x"]})).await;
        answers.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
    }
    assert_eq!(answers.iter().filter(|a| a.0 == 400).count() as i64, tessera::oauth::dynamic_registration::REQUESTS_PER_MIN_ADDRESS - 2);
    assert_eq!(answers.iter().filter(|a| **a == (429, true)).count(), 2, "{answers:?}");

    // off: no endpoint, and discovery does not name one
    let s = start_with(TestDb::new(b).await, |c| c.registration = RegistrationMode::Off).await;
    assert_eq!(error_of(post_register(&s, None, &spa).await, 404).await, "not_found");
    let meta: Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert!(meta.get("registration_endpoint").is_none());
}
