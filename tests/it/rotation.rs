//! Signing keys rotate without breaking a verifier: the example resource
//! server (examples/resource_server.rs) verifies every token offline while
//! keys rotate on a schedule, by hand, and after an emergency revocation.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera::app::Tessera;

use crate::both_backends;
use crate::resource_server::{routes, Verifier};
use crate::support::{machine_client, start_with, Backend, TestDb, TestServer};

both_backends!(no_verification_failure_while_keys_rotate, revoked_key_is_rejected_everywhere);

/// Start the example resource server for `issuer`; returns its base URL.
pub fn start_resource_server(issuer: String, audience: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let v = Arc::new(Verifier::discover(&issuer, &audience).await.expect("discovery"));
            actix_web::HttpServer::new(move || actix_web::App::new().configure(routes(v.clone())))
                .listen(listener)
                .expect("listen")
                .workers(1)
                .run()
                .await
                .ok();
        })
    });
    format!("http://127.0.0.1:{port}")
}

async fn fast_keys(b: Backend, rotation: Option<Duration>) -> TestServer {
    start_with(TestDb::new(b).await, |c| {
        c.jwks_max_age = Duration::from_secs(1);
        c.key_margin = Duration::from_secs(1);
        c.key_refresh_interval = Duration::from_secs(1);
        c.key_rotation = rotation;
    })
    .await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn no_verification_failure_while_keys_rotate(b: Backend) {
    // The schedule rotates every 2 s: as fast as pre-publication allows (max-age 1 s + margin 1 s).
    let s = fast_keys(b, Some(Duration::from_secs(2))).await;
    let (id, secret) = crate::support::limited_client(&s.db, "read:data", Some(1_000_000)).await;
    let rs = start_resource_server(s.base.clone(), "https://api.example.com".into());
    let admin = Tessera::open(s.tdb.config(s.port)).await.unwrap();
    let mut kids = HashSet::new();
    let (mut ok, mut failures) = (0, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    while kids.len() < 6 && Instant::now() < deadline {
        let token = s.client_credentials(&id, &secret, Some("read:data")).await;
        kids.insert(kid(&token));
        let r = s.http.get(format!("{rs}/data")).bearer_auth(&token).send().await.unwrap();
        if r.status() == 200 {
            ok += 1;
        } else {
            failures.push((kid(&token), r.status(), r.headers().get("www-authenticate").cloned()));
        }
        // Interleave manual rotations with the schedule; a rotation that
        // would activate a too-young key is refused, never forced here.
        if ok % 25 == 0 {
            let _refused_when_too_young = admin.keys.rotate(false).await;
        }
    }
    assert!(failures.is_empty(), "{} verification failures: {failures:?}", failures.len());
    assert!(kids.len() >= 4, "keys rotated only {} times in 60 s", kids.len() - 1);
    assert!(ok > 0);
    // forced rotation ignores the wait and says so
    let r = admin.keys.rotate(true).await.unwrap();
    assert!(r.forced);
}

async fn revoked_key_is_rejected_everywhere(b: Backend) {
    let s = fast_keys(b, None).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let (rs_id, rs_secret) = crate::support::resource_server(&s.db).await;
    let rs = start_resource_server(s.base.clone(), "https://api.example.com".into());
    let old = s.client_credentials(&id, &secret, None).await;
    let old_kid = kid(&old);
    assert_eq!(s.http.get(format!("{rs}/data")).bearer_auth(&old).send().await.unwrap().status(), 200);

    let admin = Tessera::open(s.tdb.config(s.port)).await.unwrap();
    let report = admin.keys.revoke(&old_kid).await.unwrap();
    let promoted = report.promoted.clone().expect("the revoked current key is replaced");

    // the server drops the key within its refresh interval (1 s here)
    let deadline = Instant::now() + Duration::from_secs(15);
    while s.introspect(&rs_id, &rs_secret, &old).await["active"] == true {
        assert!(Instant::now() < deadline, "introspection still accepts the revoked key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jwks: serde_json::Value = s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert!(!jwks.to_string().contains(&old_kid), "the revoked key left the JWKS");
    // the resource server refetches when its cache expires (max-age 1 s) and then refuses
    while s.http.get(format!("{rs}/data")).bearer_auth(&old).send().await.unwrap().status() != 401 {
        assert!(Instant::now() < deadline, "the resource server still accepts the revoked key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // new tokens are signed by the promoted key and verify
    let new = s.client_credentials(&id, &secret, None).await;
    assert_eq!(kid(&new), promoted);
    assert_eq!(s.http.get(format!("{rs}/data")).bearer_auth(&new).send().await.unwrap().status(), 200);
    // scope enforcement and RFC 6750 answers of the example
    let r = s.http.post(format!("{rs}/data")).bearer_auth(&new).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let r = s.http.get(format!("{rs}/data")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

both_backends!(es256_and_eddsa_access_tokens_verify_offline);

/// A deployment may sign access tokens with ES256 or EdDSA: they verify
/// offline through the JWKS (the example resource server) and introspect;
/// RS256 keys stay published and sign ID tokens.
async fn es256_and_eddsa_access_tokens_verify_offline(b: Backend) {
    use tessera::keys::Alg;
    for alg in [Alg::ES256, Alg::EdDSA] {
        let s = start_with(TestDb::new(b).await, |c| c.signing_alg = alg).await;
        let (id, secret) = machine_client(&s.db, "read:data").await;
        let (rs_id, rs_secret) = crate::support::resource_server(&s.db).await;
        let token = s.client_credentials(&id, &secret, None).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, alg.jwt());
        assert_eq!(s.introspect(&rs_id, &rs_secret, &token).await["active"], true);
        let rs = start_resource_server(s.base.clone(), "https://api.example.com".into());
        let r = s.http.get(format!("{rs}/data")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{alg:?}");
        let jwks: serde_json::Value = s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert_eq!(algs.iter().filter(|a| **a == "RS256").count(), 2, "RS256 current and next stay published");
        assert_eq!(algs.iter().filter(|a| **a == alg.as_str()).count(), 2);
        // a token whose header claims another algorithm than its key's is refused
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let other = if alg == Alg::ES256 { "EdDSA" } else { "ES256" };
        parts[0] = b64.encode(format!(r#"{{"alg":"{other}","typ":"at+jwt","kid":"{}"}}"#, header.kid.unwrap()));
        let forged = parts.join(".");
        assert_eq!(s.introspect(&rs_id, &rs_secret, &forged).await["active"], false);
        assert_eq!(s.http.get(format!("{rs}/data")).bearer_auth(&forged).send().await.unwrap().status(), 401);
        // rotation rotates every algorithm's keys
        let admin = Tessera::open(s.tdb.config(s.port)).await.unwrap();
        let mut cfg = s.tdb.config(s.port);
        cfg.signing_alg = alg;
        let admin2 = Tessera::open(cfg).await.unwrap();
        let r = admin2.keys.rotate(true).await.unwrap();
        let states: Vec<(String, String)> = admin.keys.list().await.unwrap().into_iter().map(|k| (k.alg, k.state)).collect();
        assert_eq!(states.iter().filter(|(a, st)| a == "RS256" && st == "retired").count(), 1);
        assert_eq!(states.iter().filter(|(a, st)| a == alg.as_str() && st == "retired").count(), 1);
        assert!(!r.current.is_empty());
    }
}
