//! Discovery documents, JWKS caching, health.
use crate::both_backends;
use crate::support::{start, Backend};

both_backends!(discovery_describes_what_is_implemented, jwks_caches_and_revalidates, health_and_readiness);

async fn discovery_describes_what_is_implemented(b: Backend) {
    let s = start(b).await;
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["cache-control"].to_str().unwrap().contains("max-age="));
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["issuer"], s.base.as_str());
        assert_eq!(v["token_endpoint"], s.url("/token"));
        assert_eq!(v["jwks_uri"], s.url("/.well-known/jwks.json"));
        assert_eq!(v["revocation_endpoint"], s.url("/revoke"));
        assert_eq!(v["introspection_endpoint"], s.url("/introspect"));
        // every advertised endpoint answers (not 404)
        for ep in ["token_endpoint", "revocation_endpoint", "introspection_endpoint"] {
            let r = s.http.post(v[ep].as_str().unwrap()).form(&[("x", "y")]).send().await.unwrap();
            assert_ne!(r.status(), 404, "{ep}");
        }
        let grants: Vec<String> = serde_json::from_value(v["grant_types_supported"].clone()).unwrap();
        assert!(grants.contains(&"client_credentials".to_string()));
        assert!(!grants.contains(&"implicit".to_string()));
        assert_eq!(v["authorization_endpoint"], s.url("/authorize"));
        assert_eq!(v["userinfo_endpoint"], s.url("/userinfo"));
        assert_eq!(v["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(v["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(v["authorization_response_iss_parameter_supported"], true);
        let scopes: Vec<String> = serde_json::from_value(v["scopes_supported"].clone()).unwrap();
        assert!(scopes.contains(&"read:data".to_string()));
        assert_eq!(v["token_endpoint_auth_methods_supported"], serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]));
    }
}

async fn jwks_caches_and_revalidates(b: Backend) {
    let s = start(b).await;
    let r = s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cc = r.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cc.contains("max-age=300"), "{cc}");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let v: serde_json::Value = r.json().await.unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "current and next are published");
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].as_str().is_some() && k["n"].as_str().is_some() && k["e"].as_str().is_some());
        assert!(k.get("d").is_none() && k.get("p").is_none(), "no private part");
    }
    let r = s.http.get(s.url("/.well-known/jwks.json")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    let r = s.http.get(s.url("/.well-known/jwks.json")).header("if-none-match", "\"stale\"").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

async fn health_and_readiness(b: Backend) {
    let s = start(b).await;
    assert_eq!(s.http.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["store_kind"], b.store_kind());
    let r = s.http.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

both_backends!(metrics_count_tokens_errors_and_latency);

async fn metrics_count_tokens_errors_and_latency(backend: Backend) {
    let s = start(backend).await;
    let (id, secret) = crate::support::machine_client(&s.db, "read:data").await;
    let before = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let count = crate::support::metric;
    s.client_credentials(&id, &secret, None).await;
    s.post_basic("/token", &id, "wrong", &[("grant_type", "client_credentials")]).await;
    let after = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    // counters are process-wide (tests share the process), so compare deltas
    let issued = "tessera_tokens_issued_total{grant_type=\"client_credentials\"}";
    assert!(count(&after, issued) >= count(&before, issued) + 1.0);
    let errs = "tessera_errors_total{code=\"invalid_client\"}";
    assert!(count(&after, errs) >= count(&before, errs) + 1.0);
    let lat = "tessera_request_duration_seconds_count{endpoint=\"token\"}";
    assert!(count(&after, lat) >= count(&before, lat) + 2.0);
    assert!(after.contains("# TYPE tessera_request_duration_seconds histogram"));

    // a failed login, and a client over its limit: the operator's series move
    let b = crate::support::browser();
    let html = b.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", crate::support::hidden(&html, "csrf")), ("authz", String::new()), ("username", "nobody".into()), ("password", "wrong-password".into())];
    b.post(s.url("/login")).form(&form).send().await.unwrap();
    let (lid, lsecret) = crate::support::limited_client(&s.db, "read:data", Some(2)).await;
    s.client_credentials(&lid, &lsecret, None).await;
    assert_eq!(s.post_basic("/token", &lid, &lsecret, &[("grant_type", "client_credentials")]).await.status(), 429);
    let last = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let failed = "tessera_security_events_total{event=\"login_failed\"}";
    assert!(count(&last, failed) >= count(&after, failed) + 1.0);
    let limited = "tessera_rate_limited_total{tier=\"free\"}";
    assert!(count(&last, limited) >= count(&after, limited) + 1.0);
    assert!(count(&last, "tessera_signing_key_age_seconds") >= 0.0 && last.contains("# TYPE tessera_signing_key_age_seconds gauge"));
    // the store's round trips and the database pool
    let rounds = format!("tessera_store_round_seconds_count{{store=\"{}\"}}", backend.store_kind());
    assert!(count(&last, &rounds) >= count(&after, &rounds) + 2.0, "{rounds}");
    assert!(count(&last, "tessera_db_pool_max_connections") >= 1.0);
    assert!(count(&last, "tessera_db_pool_connections{state=\"idle\"}") + count(&last, "tessera_db_pool_connections{state=\"in_use\"}") >= 1.0);
}

/// `TESSERA_METRICS_BIND` puts `/metrics` on a listener of its own (the
/// scraper's network), which serves nothing else but the probes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener() {
    use crate::support::{free_port, serve_process, wait_ready, TestDb};
    let tdb = TestDb::new(Backend::Embedded).await;
    let (port, mport) = (free_port(), free_port());
    let (base, mbase) = (format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{mport}"));
    let metrics_bind = format!("127.0.0.1:{mport}");
    let _p = serve_process(&tdb, port, &base, &[("TESSERA_METRICS_BIND", metrics_bind.as_str())], std::process::Stdio::null());
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;

    let r = http.get(format!("{mbase}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("# TYPE tessera_request_duration_seconds histogram"));
    assert_eq!(http.get(format!("{mbase}/readyz")).send().await.unwrap().status(), 200);

    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "not_found");
    for path in ["/.well-known/jwks.json", "/.well-known/openid-configuration"] {
        assert_eq!(http.get(format!("{mbase}{path}")).send().await.unwrap().status(), 404, "{path} on the metrics listener");
        assert_eq!(http.get(format!("{base}{path}")).send().await.unwrap().status(), 200, "{path} on the main listener");
    }
    let r = http.post(format!("{mbase}/token")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
}
