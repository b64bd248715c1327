//! Login abuse: failed logins lock the account (growing, per account),
//! unknown usernames behave the same, one address is throttled, and a
//! success resets the count.
use crate::both_backends;
use crate::support::{app, browser, count_where, hidden, legacy_client, start, user, Backend, TestServer, PASSWORD};

both_backends!(failed_logins_lock_one_account_and_success_resets, concurrent_guesses_are_bounded_by_the_lock);

async fn attempt(s: &TestServer, b: &reqwest::Client, authorize_url: &str, username: &str, password: &str) -> (u16, String) {
    attempt_via(s, b, authorize_url, username, password, None).await
}

/// An attempt whose request carries `X-Forwarded-For: forwarded_for`, as a proxy would add.
async fn attempt_via(s: &TestServer, b: &reqwest::Client, authorize_url: &str, username: &str, password: &str, forwarded_for: Option<&str>) -> (u16, String) {
    let html = b.get(authorize_url).send().await.unwrap().text().await.unwrap();
    let mut post = b.post(s.url("/login"));
    if let Some(x) = forwarded_for {
        post = post.header("x-forwarded-for", x);
    }
    let r = post
        .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("username", username.into()), ("password", password.into())])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// An attempt expected to meet a lock: the seconds its `Retry-After` says.
async fn locked_for(s: &TestServer, url: &str, username: &str) -> i64 {
    let b = browser();
    let html = b.get(url).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("username", username.into()), ("password", PASSWORD.into())];
    let r = b.post(s.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 429, "{username} is locked");
    r.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

async fn failed_logins_lock_one_account_and_success_resets(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    user(&s.db, "bob", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let url = s.authorize_url(&client, "read:data", &[]);
    let br = browser();

    for i in 1..=5 {
        let (status, html) = attempt(&s, &br, &url, "alice", "wrong password").await;
        assert_eq!(status, 401, "attempt {i}");
        assert!(html.contains("Invalid username or password."));
    }
    // locked: even the right password is refused, without saying whether it was right
    let (status, html) = attempt(&s, &br, &url, "alice", PASSWORD).await;
    assert_eq!(status, 429);
    assert!(html.contains("Too many failed attempts"));
    assert!((25..=30).contains(&locked_for(&s, &url, "alice").await));
    // the lock is per account: bob signs in from the same address
    let (status, html) = attempt(&s, &browser(), &url, "bob", PASSWORD).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("wants access"));
    // a name that matches no account locks the same way, to the second, so a lock reveals nothing
    for _ in 1..=5 {
        assert_eq!(attempt(&s, &br, &url, "mallory", "whatever pw").await.0, 401);
    }
    assert!((25..=30).contains(&locked_for(&s, &url, "mallory").await));
    // the password grant is locked too: the right password is refused while locked
    let (legacy, legacy_secret) = legacy_client(&s.db).await;
    let grant = [("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)];
    let r = s.post_basic("/token", &legacy, &legacy_secret, &grant).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert!(v["error_description"].as_str().unwrap().contains("too many failed attempts"), "{v}");
    assert!(v.get("access_token").is_none());
    assert_eq!(count_where(&s.db, "audit_events", "event = 'login.locked'").await, 2, "alice and mallory");
    assert!(count_where(&s.db, "audit_events", "event = 'login.failed'").await >= 10);

    // the lock expires (moved into the past here instead of waiting): a success resets the count
    s.tdb.expire_login_lock("alice").await;
    assert_eq!(attempt(&s, &br, &url, "alice", PASSWORD).await.0, 200);
    // the next lock after a reset starts short again; a second one in a row is longer
    for _ in 1..=5 {
        assert_eq!(attempt(&s, &browser(), &url, "alice", "wrong again").await.0, 401);
    }
    let first = locked_for(&s, &url, "alice").await;
    assert!((25..=30).contains(&first), "{first}");
    // when a lock runs out without a success in between, the next failure is
    // evaluated and locks twice as long: for an account and an unknown name alike
    for name in ["alice", "mallory"] {
        s.tdb.expire_login_lock(name).await;
        assert_eq!(attempt(&s, &browser(), &url, name, "wrong yet again").await.0, 401);
        let second = locked_for(&s, &url, name).await;
        assert!((55..=60).contains(&second), "{name}: a second lock in a row is longer: {second} s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_is_throttled_across_usernames() {
    let s = start(Backend::PostgresRedis).await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let url = s.authorize_url(&client, "read:data", &[]);
    let br = browser();
    // 20 failures spread over 10 usernames (2 each: no account lock); the
    // forwarding headers a sender writes itself change nothing without
    // trusted proxies
    for i in 0..20 {
        let forged = format!("198.51.100.{i}");
        assert_eq!(attempt_via(&s, &br, &url, &format!("user{}", i % 10), "nope nope", Some(&forged)).await.0, 401);
    }
    let (status, html) = attempt_via(&s, &br, &url, "someone-new", "nope nope", Some("203.0.113.99")).await;
    assert_eq!(status, 429, "{html}");
}

/// Behind a trusted proxy, the throttle keys on the address the proxy
/// recorded: one client's failures do not lock out everyone else who comes
/// through the same proxy, and the audit trail names the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let tdb = crate::support::TestDb::new(Backend::PostgresRedis).await;
    let s = crate::support::start_with(tdb, |c| c.trusted_proxies = tessera::net::Cidr::parse_list("127.0.0.1/32").unwrap()).await;
    user(&s.db, "victim", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let url = s.authorize_url(&client, "read:data", &[]);
    let br = browser();
    for i in 0..20 {
        let hops = "6.6.6.6, 198.51.100.1"; // the leftmost hop is the attacker's own forgery
        assert_eq!(attempt_via(&s, &br, &url, &format!("user{}", i % 10), "nope nope", Some(hops)).await.0, 401);
    }
    assert_eq!(attempt_via(&s, &br, &url, "another", "nope nope", Some("7.7.7.7, 198.51.100.1")).await.0, 429, "that client is throttled");
    let (status, html) = attempt_via(&s, &browser(), &url, "victim", PASSWORD, Some("198.51.100.2")).await;
    assert_eq!(status, 200, "another client behind the same proxy signs in: {html}");
    let from_client = count_where(&s.db, "audit_events", "event = 'login.failed' AND ip = '198.51.100.1'").await;
    assert_eq!(from_client, 20, "the audit trail records the client's address");
}

/// Forty wrong passwords at once — from one session, from fresh sessions,
/// and through the password grant — get at most the lockout threshold
/// evaluated: every budget is spent before a password is checked, so
/// concurrent guesses cannot all read the same count. The rest get the
/// lock's answer, and the right password is refused while locked.
async fn concurrent_guesses_are_bounded_by_the_lock(b: Backend) {
    let s = start(b).await;
    for name in ["carol", "dave", "erin"] {
        user(&s.db, name, "user").await;
    }
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let url = s.authorize_url(&client, "read:data", &[]);

    // one session: one login page's CSRF token, forty posts at once
    let br = browser();
    let html = br.get(&url).send().await.unwrap().text().await.unwrap();
    let (csrf, authz) = (hidden(&html, "csrf"), hidden(&html, "authz"));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (br, login, csrf, authz) = (br.clone(), s.url("/login"), csrf.clone(), authz.clone());
            let form = [("csrf", csrf), ("authz", authz), ("username", "carol".to_string()), ("password", format!("guess {i}"))];
            tokio::spawn(async move { br.post(login).form(&form).send().await.unwrap().status().as_u16() })
        })
        .collect();
    let statuses = join(tasks).await;
    assert_eq!(count(&statuses, 401), tessera::registry::users::LOCK_AFTER as usize, "evaluated: {statuses:?}");
    assert_eq!(count(&statuses, 429), 40 - tessera::registry::users::LOCK_AFTER as usize, "{statuses:?}");
    assert_eq!(attempt(&s, &browser(), &url, "carol", PASSWORD).await.0, 429, "the right password is refused while locked");
    assert!((25..=30).contains(&locked_for(&s, &url, "carol").await), "the first lock: five failures were counted");

    // fresh sessions, each from its own login page
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (login_url, post) = (url.clone(), s.url("/login"));
            tokio::spawn(async move {
                let br = browser();
                let html = br.get(&login_url).send().await.unwrap().text().await.unwrap();
                let form = [("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("username", "dave".into()), ("password", format!("guess {i}"))];
                br.post(post).form(&form).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let statuses = join(tasks).await;
    assert_eq!(count(&statuses, 401), tessera::registry::users::LOCK_AFTER as usize, "evaluated: {statuses:?}");
    assert_eq!(attempt(&s, &browser(), &url, "dave", PASSWORD).await.0, 429);

    // the password grant checks the same budget
    let (legacy, secret) = legacy_client(&s.db).await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (http, token_url, id, secret) = (s.http.clone(), s.url("/token"), legacy.clone(), secret.clone());
            tokio::spawn(async move {
                let form = [("grant_type", "password".to_string()), ("username", "erin".into()), ("password", format!("guess {i}"))];
                let r = http.post(token_url).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
                let v: serde_json::Value = r.json().await.unwrap();
                let desc = v["error_description"].as_str().unwrap_or("").to_string();
                if desc.contains("too many failed attempts") { 429 } else if desc.contains("invalid username or password") { 401 } else { 0 }
            })
        })
        .collect();
    let answers = join(tasks).await;
    assert_eq!(count(&answers, 401), tessera::registry::users::LOCK_AFTER as usize, "evaluated: {answers:?}");
    assert_eq!(count(&answers, 429), 40 - tessera::registry::users::LOCK_AFTER as usize, "{answers:?}");
    let r = s.post_basic("/token", &legacy, &secret, &[("grant_type", "password"), ("username", "erin"), ("password", PASSWORD)]).await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error_description"].as_str().unwrap().contains("too many failed attempts"), "{v}");
}

async fn join(tasks: Vec<tokio::task::JoinHandle<u16>>) -> Vec<u16> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}
