//! Two `tessera serve` processes behind one (imaginary) load balancer share
//! PostgreSQL and Redis, and agree on keys, clients and tokens.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, machine_client, serve_process, wait_ready, Backend, Proc, TestDb};


fn serve(tdb: &TestDb, port: u16, issuer: &str) -> Proc {
    serve_process(tdb, port, issuer, &[], Stdio::null())
}

async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let r = http.post(format!("{base}/token")).basic_auth(id, Some(secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

async fn jwks_kids(http: &reqwest::Client, base: &str) -> Vec<String> {
    let v: serde_json::Value = http.get(format!("{base}/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_postgres_and_redis() {
    two_processes_share_the_stores(Backend::PostgresRedis).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_postgres_and_a_redis_cluster() {
    two_processes_share_the_stores(Backend::PostgresRedisCluster).await
}

async fn two_processes_share_the_stores(backend: Backend) {
    let tdb = TestDb::new(backend).await;
    let (pa, pb) = (free_port(), free_port());
    let (a, b) = (format!("http://127.0.0.1:{pa}"), format!("http://127.0.0.1:{pb}"));
    let issuer = a.clone(); // one issuer for the whole deployment
    let http = crate::support::browser();
    let _pa = serve(&tdb, pa, &issuer);
    wait_ready(&http, &a).await;
    let _pb = serve(&tdb, pb, &issuer);
    wait_ready(&http, &b).await;

    let db = tessera::db::connect(&tdb.url).await.unwrap();
    let (id, secret) = machine_client(&db, "read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&db).await;
    assert_eq!(jwks_kids(&http, &a).await, jwks_kids(&http, &b).await, "both publish the same keys");

    // a token from either verifies through the other's JWKS and introspects active there
    let ta = token(&http, &a, &id, &secret).await;
    let tb = token(&http, &b, &id, &secret).await;
    for (t, other) in [(&ta, &b), (&tb, &a)] {
        let kid = jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        assert!(jwks_kids(&http, other).await.contains(&kid));
        let r = http.post(format!("{other}/introspect")).basic_auth(&rs, Some(&rs_secret)).form(&[("token", t.as_str())]).send().await.unwrap();
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["active"], true);
    }
    // revoked on A → inactive on B at once (shared Redis denylist)
    let r = http.post(format!("{a}/revoke")).basic_auth(&id, Some(&secret)).form(&[("token", tb.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.post(format!("{b}/introspect")).basic_auth(&rs, Some(&rs_secret)).form(&[("token", tb.as_str())]).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["active"], false);

    // a rotation (here by the CLI, a third process) is seen by both within the
    // documented bound: TESSERA_KEY_REFRESH_SECS (1 s here), plus a request.
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["keys", "rotate", "--force", "--json"])
        .envs(tdb.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_kid = report["current"].as_str().unwrap().to_string();
    let started = Instant::now();
    for base in [&a, &b] {
        loop {
            let t = token(&http, base, &id, &secret).await;
            if jsonwebtoken::decode_header(&t).unwrap().kid.unwrap() == new_kid {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{base} still signs with the old key");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // suspension made through one instance's database is seen by the other at once
    tessera::registry::clients::set_status(&db, tdb.store().await.as_ref(), &id, tessera::registry::clients::StatusChange::Suspend, None).await.unwrap();
    for base in [&a, &b] {
        let r = http.post(format!("{base}/token")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
}

/// Each instance keeps the grants it read (`registry::consents::GrantCache`)
/// until a consent or a client changes. A code issued before a revocation,
/// exchanged at another instance that holds the grant in memory, is still
/// refused: the revocation moved the grants epoch every instance reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_on_one_instance_is_gone_from_another_s_memory() {
    use crate::support::{app, browser, location_params, user, REDIRECT, VERIFIER};
    let s = crate::support::start(Backend::PostgresRedis).await;
    let port = free_port();
    let b = format!("http://127.0.0.1:{port}");
    let _pb = serve_process(&s.tdb, port, &s.base, &[], Stdio::null());
    wait_ready(&s.http, &b).await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let uid = user(&s.db, "ana", "user").await;
    let exchange_at_b = |code: String| {
        let (http, b, client) = (s.http.clone(), b.clone(), client.clone());
        async move {
            let form = [("grant_type", "authorization_code"), ("code", &code), ("client_id", &client), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
            let r = http.post(format!("{b}/token")).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    // consent at A; B exchanges the code and refreshes: B holds the grant now
    let ana = browser();
    let r = s.login_and_consent(&ana, &s.authorize_url(&client, "openid read:data", &[]), "ana").await;
    let (status, tokens) = exchange_at_b(location_params(&r)["code"].clone()).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = |rt: String| {
        let (http, b, client) = (s.http.clone(), b.clone(), client.clone());
        async move {
            let r = http.post(format!("{b}/token")).form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("client_id", client.as_str())]).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, refreshed) = refresh(tokens["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(status, 200, "{refreshed}");
    // B's refresh took the grant from memory: its exchange had read and kept it
    let grant_lookups = || {
        let (http, b) = (s.http.clone(), b.clone());
        async move {
            let text = http.get(format!("{b}/metrics")).send().await.unwrap().text().await.unwrap();
            let n = |result: &str| crate::support::metric(&text, &format!("tessera_cache_lookups_total{{cache=\"grants\",result=\"{result}\"}}"));
            (n("hit"), n("miss"))
        }
    };
    assert_eq!(grant_lookups().await, (1.0, 1.0), "the exchange missed, the refresh hit");
    // a second code, before the revocation (signed in and consented: straight to the code)
    let r = ana.get(s.authorize_url(&client, "openid read:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let code = location_params(&r)["code"].clone();
    // the user revokes the app (here through the registry, as every way in does)
    let store = s.tdb.store().await;
    tessera::registry::consents::revoke(&s.db, store.as_ref(), &uid, &client, Some(&uid), None).await.unwrap();
    let (status, body) = exchange_at_b(code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(body["error_description"], "the grant was revoked");
    assert_eq!(grant_lookups().await, (1.0, 2.0), "the moved epoch sent B to the database");
    let (status, body) = refresh(refreshed["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

/// SIGTERM lets in-flight requests finish: every answer that begins is
/// complete (status 200 and a whole JSON body), and the process exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests() {
    let tdb = TestDb::new(Backend::PostgresRedis).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut p = serve_process(&tdb, port, &base, &[], Stdio::null());
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let db = tessera::db::connect(&tdb.url).await.unwrap();
    let (id, secret) = crate::support::limited_client(&db, "read:data", Some(1_000_000)).await;
    let first_done = std::sync::Arc::new(tokio::sync::Notify::new());
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (http, base, id, secret) = (http.clone(), base.clone(), id.clone(), secret.clone());
            let first_done = first_done.clone();
            tokio::spawn(async move {
                let r = http.post(format!("{base}/token")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await;
                first_done.notify_one();
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        // a full, parseable body for every answered request
                        let body: Result<serde_json::Value, _> = r.json().await;
                        Some((status, body.is_ok()))
                    }
                    // not taken up before the listener closed (refused, or reset on a
                    // connection the server had not started reading): no answer began
                    Err(_) => None,
                }
            })
        })
        .collect();
    // Terminate once the first answer is back: the other 39 are in flight or queued.
    first_done.notified().await;
    let pid = p.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut answered = 0;
    for t in tasks {
        if let Some((status, parsed)) = t.await.unwrap() {
            assert_eq!(status, 200);
            assert!(parsed);
            answered += 1;
        }
    }
    assert!(answered > 0, "some requests were in flight");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = p.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
}

/// A server opens its whole PostgreSQL pool (`TESSERA_DB_POOL_SIZE`
/// connections) before it answers, without any load, and never more under
/// one: a burst after a pause waits for no new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_opens_its_postgresql_pool_at_start_and_keeps_its_size() {
    let tdb = TestDb::new(Backend::PostgresRedis).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _p = serve_process(&tdb, port, &base, &[("TESSERA_DB_POOL_SIZE", "5")], Stdio::null());
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let pool = || async {
        let m = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let open = crate::support::metric(&m, "tessera_db_pool_connections{state=\"idle\"}") + crate::support::metric(&m, "tessera_db_pool_connections{state=\"in_use\"}");
        (open, crate::support::metric(&m, "tessera_db_pool_max_connections"))
    };
    assert_eq!(pool().await, (5.0, 5.0), "(open, max) once ready");
    // a burst of requests that query PostgreSQL (each client is new to this server)
    let db = tessera::db::connect(&tdb.url).await.unwrap();
    let mut clients = vec![];
    for _ in 0..20 {
        clients.push(machine_client(&db, "read:data").await);
    }
    let burst: Vec<_> = clients.into_iter().map(|(id, secret)| {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move { token(&http, &base, &id, &secret).await })
    }).collect();
    for t in burst {
        t.await.unwrap();
    }
    assert_eq!(pool().await, (5.0, 5.0), "(open, max) after the burst");
}
