//! The legacy resource-owner password grant: off unless a client has it.
use crate::both_backends;
use crate::support::{legacy_client, machine_client, start, user, Backend, PASSWORD};

both_backends!(password_grant_only_for_clients_registered_for_it);

async fn password_grant_only_for_clients_registered_for_it(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let (id, secret) = legacy_client(&s.db).await;
    let form = |pw: &'static str| vec![("grant_type", "password"), ("username", "alice"), ("password", pw)];
    let r = s.post_basic("/token", &id, &secret, &form(PASSWORD)).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["refresh_token"].as_str().is_some());
    let claims = crate::support::verify_offline(&s, v["access_token"].as_str().unwrap(), "https://api.example.com").await.unwrap();
    assert_eq!(claims["sub"], alice.as_str());
    let r = s.post_basic("/token", &id, &secret, &form("wrong password")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    // a client without the grant type is refused before any password is checked
    let (m, msecret) = machine_client(&s.db, "read:data").await;
    let r = s.post_basic("/token", &m, &msecret, &form(PASSWORD)).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "unauthorized_client");
}
