//! Faults and races: PostgreSQL stopped under a running server fails closed
//! and recovers by itself; concurrent secret rotations and code redemptions
//! have exactly one winner.
use std::time::{Duration, Instant};

use crate::both_backends;
use crate::support::{app, browser, count_rows, location_params, machine_client, start, start_with, user, Backend, Postgres, TestDb};

/// PostgreSQL stopped under a running server: whatever needs the database
/// answers 503 — a client not in memory cannot be checked, so it gets no
/// token — nothing is lost, and service resumes when PostgreSQL returns,
/// without restart. A client already in memory keeps working: no change to
/// it can have been made meanwhile (changes go through the database), and
/// its tokens stay revocable (the denylist is in Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_fails_closed_and_recovers() {
    let pg = Postgres::start();
    let mut tdb = TestDb::new(Backend::Embedded).await; // only for its directory and KEK
    tdb.url = pg.url();
    tdb.redis_url = Some(crate::support::required_env("TESSERA_TEST_REDIS_URL"));
    tdb.prefix = format!("{}:", crate::support::random_name("pgfault"));
    let s = start_with(tdb, |_| {}).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let (cold, cold_secret) = crate::support::resource_server(&s.db).await; // it introspects the first one's token at the end
    let token = s.client_credentials(&id, &secret, None).await;
    // alice has consented to an app; /authorize knows the app (cached)
    user(&s.db, "alice", "user").await;
    let (app_id, _) = app(&s.db, "public", "openid read:data").await;
    let br = browser();
    let authorize = s.authorize_url(&app_id, "read:data", &[]);
    let r = s.login_and_consent(&br, &authorize, "alice").await;
    assert!(location_params(&r).contains_key("code"));
    let clients_before = count_rows(&s.db, "clients").await;

    pg.down();
    // /authorize cannot read the signed-in user: a 503 page, not a login page, no code
    let r = br.get(&authorize).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("location").is_none());
    // so do the other pages of a signed-in user, and the account's API: not "signed out"
    for path in ["/account", "/account/api/grants", "/device"] {
        let r = br.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 503, "{path}");
        assert!(r.headers().get("location").is_none(), "{path}");
        if path.contains("/api/") {
            assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "temporarily_unavailable");
        }
    }
    // the client in memory still gets tokens; the one never seen does not
    s.client_credentials(&id, &secret, None).await;
    let (id, secret) = (cold, cold_secret);
    let cc = [("grant_type", "client_credentials")];
    for (path, form) in [("/token", &cc[..]), ("/introspect", &[("token", token.as_str())][..])] {
        let r = s.post_basic(path, &id, &secret, form).await;
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "temporarily_unavailable");
    }
    assert_eq!(s.http.get(s.url("/readyz")).send().await.unwrap().status(), 503);
    // discovery and the JWKS are served from memory meanwhile
    assert_eq!(s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap().status(), 200);

    pg.up();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = s.post_basic("/token", &id, &secret, &cc).await;
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {}", r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let db = tessera::db::connect(&s.tdb.url).await.unwrap();
    assert_eq!(count_rows(&db, "clients").await, clients_before, "nothing lost, nothing duplicated");
    assert_eq!(s.introspect(&id, &secret, &token).await["active"], true);
    // and alice's session carries on to a code
    let r = br.get(&authorize).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(location_params(&r).contains_key("code"));
}


both_backends!(concurrent_secret_rotations_have_one_winner);
crate::every_store!(concurrent_code_redemptions_have_one_winner);

async fn concurrent_secret_rotations_have_one_winner(b: Backend) {
    let s = start(b).await;
    let (id, old) = machine_client(&s.db, "read:data").await;
    let store = s.tdb.store().await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (db, id, store) = (s.db.clone(), id.clone(), store.clone());
            tokio::spawn(async move { tessera::registry::clients::rotate_secret(&db, store.as_ref(), &id, 0, Some("race")).await })
        })
        .collect();
    let mut winners = vec![];
    for t in tasks {
        match t.await.unwrap() {
            Ok(c) => winners.push(c.client_secret.unwrap()),
            Err(tessera::error::Error::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(!winners.is_empty());
    // every secret ever shown works, except those overwritten; exactly the last one works now
    let working: Vec<&String> = {
        let mut w = vec![];
        for sec in winners.iter().chain(std::iter::once(&old)) {
            if s.post_basic("/token", &id, sec, &[("grant_type", "client_credentials")]).await.status() == 200 {
                w.push(sec);
            }
        }
        w
    };
    assert_eq!(working.len(), 1, "no half state: one secret works");
    assert_ne!(working[0], &old);
}

async fn concurrent_code_redemptions_have_one_winner(b: Backend) {
    let s = std::sync::Arc::new(start(b).await);
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let br = browser();
    let r = s.login_and_consent(&br, &s.authorize_url(&client, "read:data", &[]), "alice").await;
    let code = location_params(&r)["code"].clone();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (s, c, code) = (s.clone(), client.clone(), code.clone());
            tokio::spawn(async move { s.exchange(&c, &code).await.status().as_u16() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

both_backends!(concurrent_consents_of_one_user_both_succeed);

/// Two tabs consent at once: both get a code, one grant row holds both.
async fn concurrent_consents_of_one_user_both_succeed(b: Backend) {
    let s = std::sync::Arc::new(start(b).await);
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data write:data").await;
    let tasks: Vec<_> = ["read:data", "write:data", "read:data", "write:data"]
        .into_iter()
        .map(|scope| {
            let (s, c) = (s.clone(), client.clone());
            tokio::spawn(async move {
                let r = s.login_and_consent(&browser(), &s.authorize_url(&c, scope, &[]), "alice").await;
                location_params(&r).contains_key("code")
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap(), "every tab gets a code");
    }
    assert_eq!(count_rows(&s.db, "grants").await, 1);
    let alice = tessera::registry::users::find_by_username(&s.db, "alice").await.unwrap().unwrap();
    let g = tessera::registry::consents::find(&s.db, &alice.user_id, &client).await.unwrap().unwrap();
    assert!(g.scopes.contains(&"read:data".to_string()) && g.scopes.contains(&"write:data".to_string()));
}

crate::backend_cases!(client_cache_follows_the_epoch: embedded => Embedded, postgres_redis => PostgresRedis);

/// With Redis, and on the embedded default (its epoch is a file beside the
/// database), instances keep clients in memory and re-read them when the
/// clients epoch changes: a change made through the management functions,
/// here by another store on the same deployment as the CLI would, is seen
/// on the very next request; a change behind their back is not (until the
/// cache's TTL), which proves the cache is used.
async fn client_cache_follows_the_epoch(b: Backend) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let s = start(b).await;
    let store = s.tdb.store().await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    s.client_credentials(&id, &secret, None).await; // cached now
    // suspend behind the cache's back: still served from memory
    entity::clients::Entity::update_many()
        .col_expr(entity::clients::Column::Status, sea_orm::sea_query::Expr::value("suspended"))
        .filter(entity::clients::Column::ClientId.eq(id.as_str()))
        .exec(&s.db)
        .await
        .unwrap();
    s.client_credentials(&id, &secret, None).await;
    // announced: refused at once
    store.bump_clients_epoch().await.unwrap();
    assert_eq!(s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await.status(), 401);
    // the management function announces by itself
    tessera::registry::clients::set_status(&s.db, store.as_ref(), &id, tessera::registry::clients::StatusChange::Activate, None).await.unwrap();
    s.client_credentials(&id, &secret, None).await;
    tessera::registry::clients::set_status(&s.db, store.as_ref(), &id, tessera::registry::clients::StatusChange::Suspend, None).await.unwrap();
    assert_eq!(s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await.status(), 401);
}
