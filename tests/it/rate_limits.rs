//! Per-client rate limits: 429 with Retry-After and X-RateLimit-*, other
//! clients unaffected, one limit across instances, fail closed.
use std::process::Stdio;

use crate::support::RedisServer;
use std::time::{Duration, Instant};

use crate::both_backends;
use crate::support::{free_port, limited_client, user, machine_client, serve_process, start, start_with, wait_ready, Backend, TestDb};

both_backends!(over_the_limit_gets_429_and_others_are_unaffected, userinfo_counts_against_the_tokens_client);

fn header(r: &reqwest::Response, name: &str) -> i64 {
    r.headers().get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap().parse().unwrap()
}

async fn over_the_limit_gets_429_and_others_are_unaffected(b: Backend) {
    let s = start(b).await;
    // 6 units a minute; a token request costs 2, an introspection 1.
    let (id, secret) = limited_client(&s.db, "read:data tessera:admin", Some(6)).await;
    let (other, other_secret) = machine_client(&s.db, "read:data").await;
    let cc = [("grant_type", "client_credentials")];
    let mut remaining = vec![];
    let mut admin_token = String::new();
    for _ in 0..3 {
        let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "tessera:admin")]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit"), 6);
        assert!(header(&r, "x-ratelimit-reset") > 0);
        remaining.push(header(&r, "x-ratelimit-remaining"));
        admin_token = r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    }
    assert_eq!(remaining, vec![4, 2, 0]);
    let r = s.post_basic("/token", &id, &secret, &cc).await;
    assert_eq!(r.status(), 429);
    let retry = header(&r, "retry-after");
    assert!((1..=120).contains(&retry), "{retry}");
    assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
    assert_eq!(header(&r, "x-ratelimit-limit"), 6);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "rate_limit_exceeded");
    assert_eq!(v["limit"], 6);
    assert_eq!(v["retry_after"], retry);
    assert!(v.get("access_token").is_none());
    // introspection, revocation and the admin API are limited too (same
    // budget), each with the same answer
    let over = [
        s.post_basic("/introspect", &id, &secret, &[("token", "x")]).await,
        s.post_basic("/revoke", &id, &secret, &[("token", "x")]).await,
        s.http.get(s.url("/admin/api/clients")).bearer_auth(&admin_token).send().await.unwrap(),
    ];
    for r in over {
        let url = r.url().path().to_string();
        assert_eq!(r.status(), 429, "{url}");
        assert!(header(&r, "retry-after") >= 1, "{url}");
        assert_eq!(header(&r, "x-ratelimit-limit"), 6, "{url}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "rate_limit_exceeded", "{url}");
    }
    // the other client is unaffected
    let r = s.post_basic("/token", &other, &other_secret, &cc).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-limit"), 100, "free tier");
    // one audit row for the episode, however many refusals
    s.post_basic("/token", &id, &secret, &cc).await;
    let hits = crate::support::count_where(&s.db, "audit_events", "event = 'rate_limit.hit'").await;
    assert_eq!(hits, 1);
}

/// /userinfo counts against the client the token was issued to, in the same
/// store round trip as the denylist check; a revoked token spends nothing.
async fn userinfo_counts_against_the_tokens_client(b: Backend) {
    let s = start_with(TestDb::new(b).await, |c| c.rate.free = 10).await;
    user(&s.db, "ula", "user").await;
    let (client, _) = crate::support::app(&s.db, "public", "openid read:data").await;
    // two token requests at cost 2 each: 4 of 10 spent
    let kept = s.tokens_for(&client, "ula", "openid").await["access_token"].as_str().unwrap().to_string();
    let revoked = s.tokens_for(&client, "ula", "openid").await["access_token"].as_str().unwrap().to_string();
    let r = s.http.post(s.url("/revoke")).form(&[("token", revoked.as_str()), ("client_id", client.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let userinfo = |tok: String| {
        let (http, url) = (s.http.clone(), s.url("/userinfo"));
        async move { http.get(url).bearer_auth(tok).send().await.unwrap() }
    };
    let r = userinfo(kept.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-limit"), 10);
    let before = header(&r, "x-ratelimit-remaining");
    let r = userinfo(revoked).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let r = userinfo(kept.clone()).await;
    assert_eq!(header(&r, "x-ratelimit-remaining"), before - 1, "the revoked token was refunded");
    let mut last = r;
    for _ in 0..10 {
        if last.status() == 429 {
            break;
        }
        last = userinfo(kept.clone()).await;
    }
    assert_eq!(last.status(), 429);
    assert!(header(&last, "retry-after") >= 1);
    let v: serde_json::Value = last.json().await.unwrap();
    assert_eq!(v["error"], "rate_limit_exceeded");
    assert!(v.get("sub").is_none());
}

/// Two `tessera serve` processes on one PostgreSQL + Redis count one limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_limit() {
    let tdb = TestDb::new(Backend::PostgresRedis).await;
    let (pa, pb) = (free_port(), free_port());
    let (a, b) = (format!("http://127.0.0.1:{pa}"), format!("http://127.0.0.1:{pb}"));
    let http = crate::support::browser();
    let _a = serve_process(&tdb, pa, &a, &[], Stdio::null());
    wait_ready(&http, &a).await;
    let _b = serve_process(&tdb, pb, &a, &[], Stdio::null());
    wait_ready(&http, &b).await;
    let db = tessera::db::connect(&tdb.url).await.unwrap();
    let (id, secret) = limited_client(&db, "read:data", Some(6)).await;
    let token = |base: String| {
        let (http, id, secret) = (http.clone(), id.clone(), secret.clone());
        async move {
            http.post(format!("{base}/token"))
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(token(a.clone()).await, 200);
    assert_eq!(token(b.clone()).await, 200);
    assert_eq!(token(a.clone()).await, 200);
    assert_eq!(token(b.clone()).await, 429, "B counts A's requests");
    assert_eq!(token(a.clone()).await, 429);
}

/// Redis stopped under load: token, refresh, introspection and revocation
/// answer 503 (fail closed: no token that could not be revoked, no
/// unlimited flood), and service resumes by itself when Redis returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_and_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = RedisServer::start(port, &[]);
    let mut tdb = TestDb::new(Backend::PostgresRedis).await;
    tdb.redis_url = Some(format!("redis://127.0.0.1:{}/", redis.port));
    let s = start_with(tdb, |_| {}).await;
    let (id, secret) = machine_client(&s.db, "read:data tessera:admin").await;
    let token = s.client_credentials(&id, &secret, None).await;
    let cc = [("grant_type", "client_credentials")];

    redis.stop();
    for (path, form) in [("/token", &cc[..]), ("/introspect", &[("token", token.as_str())][..]), ("/revoke", &[("token", token.as_str())][..])] {
        let r = s.post_basic(path, &id, &secret, form).await;
        assert_eq!(r.status(), 503, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"], "temporarily_unavailable");
    }
    // the bearer-token resources too: the denylist cannot be asked
    for path in ["/userinfo", "/admin/api/clients"] {
        let r = s.http.get(s.url(path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "temporarily_unavailable", "{path}");
    }
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    // the circuit is open: commands are refused without waiting on Redis
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_store_circuit_open{store=\"redis\"} 1"), "the breaker opened");

    redis = RedisServer::start(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = s.post_basic("/token", &id, &secret, &cc).await;
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {}", r.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_store_circuit_open{store=\"redis\"} 0"), "the probe closed it");
    drop(redis);
}
