//! Signing-key rotation keeps old tokens verifiable.
use std::time::{Duration, Instant};

use tessera::app::Tessera;
use tessera::keys::KeyError;

use crate::both_backends;
use crate::support::{machine_client, start_with, verify_offline, Backend, TestDb};

both_backends!(rotation_keeps_old_tokens_verifiable);

fn current_kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn rotation_keeps_old_tokens_verifiable(b: Backend) {
    let s = start_with(TestDb::new(b).await, |c| c.key_refresh_interval = Duration::from_secs(1)).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let old = s.client_credentials(&id, &secret, None).await;
    let old_kid = current_kid(&old);

    // A second instance on the same database (as the CLI is).
    let admin = Tessera::open(s.tdb.config(s.port)).await.unwrap();
    let before = admin.keys.list().await.unwrap();
    let next = before.iter().find(|k| k.state == "next").unwrap().kid.clone();
    // The next key was published moments ago: verifiers may not have it yet.
    assert!(matches!(admin.keys.rotate(false).await, Err(KeyError::TooSoon { .. })));
    assert_eq!(admin.keys.list().await.unwrap().len(), 2, "a refused rotation changes nothing");
    let report = admin.keys.rotate(true).await.unwrap();
    assert_eq!(report.current, next);
    assert_eq!(report.retired.as_deref(), Some(old_kid.as_str()));

    // The server picks the new key up within its refresh interval (1 s here).
    let deadline = Instant::now() + Duration::from_secs(10);
    let new = loop {
        let t = s.client_credentials(&id, &secret, None).await;
        if current_kid(&t) == next {
            break t;
        }
        assert!(Instant::now() < deadline, "server did not pick up the rotation");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Both verify offline and introspect active; the JWKS holds retired, current and next.
    for t in [&old, &new] {
        verify_offline(&s, t, "https://api.example.com").await.expect("verifies after rotation");
        assert_eq!(s.introspect(&rs, &rs_secret, t).await["active"], true);
    }
    let jwks: serde_json::Value = s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 3);
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&next.as_str()) && kids.contains(&report.next.as_str()));
    let states: std::collections::HashMap<String, String> =
        admin.keys.list().await.unwrap().into_iter().map(|k| (k.kid, k.state)).collect();
    assert_eq!(states[&old_kid], "retired");
    assert_eq!(states[&next], "current");
    assert_eq!(states[&report.next], "next");
}
