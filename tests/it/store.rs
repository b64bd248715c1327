//! One contract, every token store: each test here runs against the SQL
//! store on SQLite (the embedded default), the SQL store on PostgreSQL, and
//! the Redis store.
use std::sync::Arc;

use tessera::store::{redis::RedisStore, sql::SqlStore, CodeRedemption, DevicePoll, DeviceRecord, RefreshRecord, RefreshState, Round, Rotation, TokenStore};
use tessera::crypto::{new_jti, random_token};

use crate::every_store;
use crate::support::{Backend, TestDb};

async fn store(b: Backend) -> (Arc<dyn TokenStore>, TestDb) {
    let tdb = TestDb::new(b).await;
    let s: Arc<dyn TokenStore> = match b {
        Backend::Embedded | Backend::PostgresSql => {
            let db = tessera::db::connect(&tdb.url).await.unwrap();
            tessera::db::migrate(&db).await.unwrap();
            Arc::new(SqlStore::new(db))
        }
        Backend::PostgresRedis | Backend::PostgresRedisCluster => Arc::new(RedisStore::open(&tdb.redis_target().unwrap(), &tdb.prefix).await.unwrap()),
    };
    (s, tdb)
}

fn now() -> i64 {
    tessera::db::now()
}

fn record(family: &str, user: &str, client: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: tessera::store::in_family(family, &random_token(32)),
        family_id: family.into(),
        client_id: client.into(),
        user_id: user.into(),
        data: r#"{"scope":"read:data"}"#.into(),
        expires_at: now() + 3600,
        access_jti: tessera::store::in_family(family, &new_jti()),
        access_exp: now() + 900,
    }
}

every_store!(
    denylist_contract,
    codes_are_single_use_and_replays_are_recognised,
    a_replay_during_the_first_exchange_reaches_what_it_stores_later,
    refresh_rotation_and_reuse_revokes_the_family,
    parallel_rotation_has_exactly_one_winner,
    revoking_one_user_at_one_client_touches_nothing_else,
    rate_counters_span_two_windows,
    a_rotation_racing_a_revocation_never_survives_it,
    sessions_end_one_by_one_or_all_of_a_user,
    login_attempts_lock_and_double,
    pushed_requests_are_taken_once,
    device_authorizations_are_decided_once_and_handed_out_once,
    denying_a_users_access_at_a_client_keeps_the_families,
);

async fn denying_a_users_access_at_a_client_keeps_the_families(b: Backend) {
    let (s, _d) = store(b).await;
    let t = now();
    let (mine, other_client, other_user) = (record(&new_jti(), "u1", "c1"), record(&new_jti(), "u1", "c2"), record(&new_jti(), "u2", "c1"));
    for r in [&mine, &other_client, &other_user] {
        s.put_refresh(r).await.unwrap();
    }
    assert_eq!(s.deny_user_client_access("u1", "c1", t).await.unwrap(), 1);
    assert!(s.is_denied(&mine.access_jti).await.unwrap());
    assert!(!s.is_denied(&other_client.access_jti).await.unwrap() && !s.is_denied(&other_user.access_jti).await.unwrap());
    assert!(matches!(s.get_refresh(&mine.token_hash, t).await.unwrap(), RefreshState::Active(_)), "the family lives on");
}

fn device(user_code: &str, expires_at: i64) -> DeviceRecord {
    DeviceRecord { device_hash: new_jti(), user_code: user_code.into(), client_id: "tv".into(), data: r#"{"scopes":["openid"]}"#.into(), expires_at }
}

async fn device_authorizations_are_decided_once_and_handed_out_once(b: Backend) {
    let (s, _d) = store(b).await;
    let t = now();
    let code = format!("BCDF{}", &random_token(8)[..4]);
    let d = device(&code, t + 600);
    assert!(s.put_device(&d).await.unwrap());
    // a live user code is never handed out twice
    assert!(!s.put_device(&device(&code, t + 600)).await.unwrap(), "user code collision must be refused");
    assert_eq!(s.pending_device(&code, t).await.unwrap(), Some(d.clone()));
    assert_eq!(s.pending_device("ZZZZZZZZ", t).await.unwrap(), None);

    // polls: recorded, too fast, another client's
    assert_eq!(s.poll_device(&d.device_hash, "tv", t, 5).await.unwrap(), DevicePoll::Pending);
    assert_eq!(s.poll_device(&d.device_hash, "tv", t + 2, 5).await.unwrap(), DevicePoll::SlowDown);
    assert_eq!(s.poll_device(&d.device_hash, "tv", t + 8, 5).await.unwrap(), DevicePoll::Pending);
    assert_eq!(s.poll_device(&d.device_hash, "other", t + 20, 5).await.unwrap(), DevicePoll::Invalid);
    assert_eq!(s.poll_device("unknown", "tv", t + 20, 5).await.unwrap(), DevicePoll::Invalid);

    // decided once: the second decision changes nothing
    assert!(s.decide_device(&d.device_hash, Some(r#"{"user":"u1"}"#), t + 21).await.unwrap());
    assert!(!s.decide_device(&d.device_hash, None, t + 22).await.unwrap());
    assert_eq!(s.pending_device(&code, t + 22).await.unwrap(), None, "decided: no longer pending");

    // handed out once, to one of many racing polls
    let polls: Vec<_> = (0..8)
        .map(|_| {
            let (s, h) = (s.clone(), d.device_hash.clone());
            tokio::spawn(async move { s.poll_device(&h, "tv", t + 30, 5).await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for p in polls {
        answers.push(p.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| **a == DevicePoll::Approved(r#"{"user":"u1"}"#.into())).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|a| matches!(a, DevicePoll::Approved(_) | DevicePoll::Invalid)), "{answers:?}");

    // denied, and expired
    let denied = device(&format!("CDFG{}", &random_token(8)[..4]), t + 600);
    assert!(s.put_device(&denied).await.unwrap());
    assert!(s.decide_device(&denied.device_hash, None, t).await.unwrap());
    assert_eq!(s.poll_device(&denied.device_hash, "tv", t + 1, 5).await.unwrap(), DevicePoll::Denied);
    let old = device(&format!("DFGH{}", &random_token(8)[..4]), t + 10);
    assert!(s.put_device(&old).await.unwrap());
    assert_eq!(s.pending_device(&old.user_code, t + 10).await.unwrap(), None, "expired: no longer pending");
    assert!(!s.decide_device(&old.device_hash, Some("{}"), t + 10).await.unwrap(), "an expired request cannot be approved");
    assert_eq!(s.poll_device(&old.device_hash, "tv", t + 11, 5).await.unwrap(), DevicePoll::Expired);
}

async fn pushed_requests_are_taken_once(b: Backend) {
    let (s, _d) = store(b).await;
    let (id, t) = (new_jti(), now());
    s.put_pushed(&id, r#"{"client_id":"c1"}"#, t + 60).await.unwrap();
    assert_eq!(s.take_pushed(&id, t).await.unwrap().as_deref(), Some(r#"{"client_id":"c1"}"#));
    assert_eq!(s.take_pushed(&id, t).await.unwrap(), None, "used once");
    let late = new_jti();
    s.put_pushed(&late, "{}", t + 60).await.unwrap();
    assert_eq!(s.take_pushed(&late, t + 61).await.unwrap(), None, "expired");
    assert_eq!(s.take_pushed(&new_jti(), t).await.unwrap(), None, "unknown");
}

async fn login_attempts_lock_and_double(b: Backend) {
    use tessera::rate_limit::LOGIN_LOCK;
    use tessera::store::LoginAttempt;
    let (s, _d) = store(b).await;
    let (name, t) = (new_jti(), now());
    for _ in 1..LOGIN_LOCK.after {
        assert_eq!(s.login_attempt(&name, t, &LOGIN_LOCK).await.unwrap(), LoginAttempt::Allowed { locks_for: None });
    }
    assert_eq!(s.login_attempt(&name, t, &LOGIN_LOCK).await.unwrap(), LoginAttempt::Allowed { locks_for: Some(30) }, "the fifth takes the lock");
    assert_eq!(s.login_attempt(&name, t + 1, &LOGIN_LOCK).await.unwrap(), LoginAttempt::Locked { until: t + 30 });
    assert_eq!(s.login_attempt(&name, t + 31, &LOGIN_LOCK).await.unwrap(), LoginAttempt::Allowed { locks_for: Some(60) }, "then twice as long");
    s.login_succeeded(&name).await.unwrap();
    assert_eq!(s.login_attempt(&name, t + 100, &LOGIN_LOCK).await.unwrap(), LoginAttempt::Allowed { locks_for: None }, "a success forgets");
    // twenty at once on a fresh name: exactly five may check a password
    let other = new_jti();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (s, other) = (s.clone(), other.clone());
            tokio::spawn(async move { s.login_attempt(&other, t, &LOGIN_LOCK).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), LoginAttempt::Allowed { .. }) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, LOGIN_LOCK.after);
}

async fn sessions_end_one_by_one_or_all_of_a_user(b: Backend) {
    let (s, _d) = store(b).await;
    let (alice, bob) = (new_jti(), new_jti());
    let (a1, a2, b1, old) = (new_jti(), new_jti(), new_jti(), new_jti());
    for (h, u) in [(&a1, &alice), (&a2, &alice), (&b1, &bob)] {
        s.put_session(h, u, now() + 3600).await.unwrap();
    }
    s.put_session(&old, &alice, now() + 1).await.unwrap();
    assert_eq!(s.session_user(&a1, now()).await.unwrap().as_deref(), Some(alice.as_str()));
    assert_eq!(s.session_user(&old, now() + 5).await.unwrap(), None, "expired (SQL reads the time; Redis the key's expiry)");
    assert_eq!(s.session_user(&new_jti(), now()).await.unwrap(), None);
    s.end_session(&a1).await.unwrap();
    assert_eq!(s.session_user(&a1, now()).await.unwrap(), None, "logged out");
    assert_eq!(s.session_user(&a2, now()).await.unwrap().as_deref(), Some(alice.as_str()), "her other session stands");
    assert!(s.end_user_sessions(&alice).await.unwrap() >= 1);
    assert_eq!(s.session_user(&a2, now()).await.unwrap(), None, "every session of alice ended");
    assert_eq!(s.session_user(&b1, now()).await.unwrap().as_deref(), Some(bob.as_str()), "bob's untouched");
}

/// A rotation and a revocation of the same family (or of the same user at
/// the same client) at once: whichever wins, no token of the family is
/// active afterwards. On PostgreSQL the revoking UPDATE once missed the row
/// an in-flight rotation inserted (READ COMMITTED).
async fn a_rotation_racing_a_revocation_never_survives_it(b: Backend) {
    let (s, _d) = store(b).await;
    for round in 0..40 {
        let (fam, user, client) = (new_jti(), new_jti(), new_jti());
        let old = record(&fam, &user, &client);
        s.put_refresh(&old).await.unwrap();
        let new = record(&fam, &user, &client);
        let (s1, s2, old_hash, new1) = (s.clone(), s.clone(), old.token_hash.clone(), new.clone());
        let rotate = tokio::spawn(async move { s1.rotate_refresh(&old_hash, &new1, now()).await.unwrap() });
        let revoke = tokio::spawn(async move {
            match round % 2 {
                0 => s2.revoke_family(&fam, now()).await.unwrap(),
                _ => s2.revoke_user_client(&user, &client, now()).await.unwrap(),
            }
        });
        rotate.await.unwrap();
        revoke.await.unwrap();
        assert_eq!(read(&s, &new.token_hash, now()).await, RefreshState::Invalid, "round {round}: the rotated token survived the revocation");
        assert!(!matches!(read(&s, &old.token_hash, now()).await, RefreshState::Active(_)), "round {round}");
    }
}

async fn rate_counters_span_two_windows(b: Backend) {
    use tessera::rate_limit::decide;
    let (s, _d) = store(b).await;
    let key = format!("client:{}", new_jti());
    // 100 requests in the last moments of window 7 …
    for _ in 0..100 {
        s.rate_add(&key, 7, 1).await.unwrap();
    }
    // … then one second into window 8: the previous window still counts.
    let (prev, cur) = s.rate_add(&key, 8, 1).await.unwrap();
    assert_eq!((prev, cur), (100, 1));
    assert!(decide(prev, cur, 1_000, 100, 1).allowed);
    let (prev, cur) = s.rate_add(&key, 8, 2).await.unwrap();
    assert_eq!((prev, cur), (100, 3));
    assert!(!decide(prev, cur, 1_000, 100, 2).allowed, "no double burst across the boundary");
    s.rate_refund(&key, 8, 2).await.unwrap();
    let (_, cur) = s.rate_add(&key, 8, 0).await.unwrap();
    assert_eq!(cur, 1, "refunded");
    // other keys are separate
    assert_eq!(s.rate_add(&format!("client:{}", new_jti()), 8, 1).await.unwrap(), (0, 1));
}

async fn denylist_contract(b: Backend) {
    let (s, _d) = store(b).await;
    s.ping().await.unwrap();
    let jti = new_jti();
    assert!(!s.is_denied(&jti).await.unwrap());
    s.deny(&jti, now() + 60).await.unwrap();
    assert!(s.is_denied(&jti).await.unwrap());
    s.deny(&jti, now() + 60).await.unwrap(); // idempotent
    assert!(!s.is_denied(&new_jti()).await.unwrap());
    // a token that expired a moment ago stays denylisted for a clock-skew
    // margin, also through a purge; one long expired is not kept
    let (recent, ancient) = (new_jti(), new_jti());
    s.deny(&recent, now() - 10).await.unwrap();
    s.deny(&ancient, now() - tessera::store::DENY_MARGIN_SECS - 10).await.unwrap();
    s.purge_expired(now()).await.unwrap();
    assert!(s.is_denied(&recent).await.unwrap(), "within the margin");
    assert!(!s.is_denied(&ancient).await.unwrap(), "past the margin");
}

async fn codes_are_single_use_and_replays_are_recognised(b: Backend) {
    let (s, _d) = store(b).await;
    let code = random_token(32);
    s.put_code(&code, "DATA", now() + 60).await.unwrap();
    assert_eq!(s.redeem_code(&code, now(), "ISSUED").await.unwrap(), CodeRedemption::Redeemed("DATA".into()));
    // what the first redemption will issue is known to a replay at once,
    // before anything was issued, and a replay does not overwrite it
    assert_eq!(s.redeem_code(&code, now(), "OTHER").await.unwrap(), CodeRedemption::Replayed(Some("ISSUED".into())));
    assert_eq!(s.redeem_code(&code, now(), "OTHER").await.unwrap(), CodeRedemption::Replayed(Some("ISSUED".into())));
    assert_eq!(s.redeem_code(&random_token(32), now(), "X").await.unwrap(), CodeRedemption::Invalid);
    // expired codes do not redeem
    let old = random_token(32);
    s.put_code(&old, "D", now() + 1).await.unwrap();
    assert_eq!(s.redeem_code(&old, now() + 5, "X").await.unwrap(), CodeRedemption::Invalid);
    // parallel redemption: exactly one winner
    let code = random_token(32);
    s.put_code(&code, "P", now() + 60).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (s, c) = (s.clone(), code.clone());
            tokio::spawn(async move { s.redeem_code(&c, now(), "X").await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), CodeRedemption::Redeemed(_)) {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

/// The first exchange of a code is slow: a replay comes in after the
/// redemption and revokes the family before the first exchange has stored
/// its refresh token. Once that exchange seals the family, the token it
/// stored is dead too, on both stores.
async fn a_replay_during_the_first_exchange_reaches_what_it_stores_later(b: Backend) {
    let (s, _d) = store(b).await;
    let (code, fam) = (random_token(32), new_jti());
    s.put_code(&code, "DATA", now() + 60).await.unwrap();
    assert_eq!(s.redeem_code(&code, now(), &fam).await.unwrap(), CodeRedemption::Redeemed("DATA".into()));
    // the replay, as the code grant handles it
    assert_eq!(s.redeem_code(&code, now(), "X").await.unwrap(), CodeRedemption::Replayed(Some(fam.clone())));
    s.revoke_family(&fam, now()).await.unwrap();
    // the first exchange goes on: stores its token, then seals
    let late = record(&fam, "u1", "c1");
    s.put_refresh(&late).await.unwrap();
    s.seal_code_family(&code, &fam, now()).await.unwrap();
    assert_eq!(s.get_refresh(&late.token_hash, now()).await.unwrap(), RefreshState::Invalid);
    assert_eq!(s.rotate_refresh(&late.token_hash, &record(&fam, "u1", "c1"), now()).await.unwrap(), Rotation::Invalid);
    // an exchange nobody replayed keeps its tokens
    let (code2, fam2) = (random_token(32), new_jti());
    s.put_code(&code2, "DATA", now() + 60).await.unwrap();
    assert!(matches!(s.redeem_code(&code2, now(), &fam2).await.unwrap(), CodeRedemption::Redeemed(_)));
    let kept = record(&fam2, "u1", "c1");
    s.put_refresh(&kept).await.unwrap();
    s.seal_code_family(&code2, &fam2, now()).await.unwrap();
    assert!(matches!(s.get_refresh(&kept.token_hash, now()).await.unwrap(), RefreshState::Active(_)));
}

/// A refresh token as the store answers for it, asked both ways — alone
/// and riding in the per-request round — which must agree.
async fn read(s: &Arc<dyn TokenStore>, hash: &str, at: i64) -> RefreshState {
    let alone = s.get_refresh(hash, at).await.unwrap();
    let round = s.round(Round { refresh: Some((hash, at)), ..Default::default() }).await.unwrap();
    assert_eq!(round.refresh.as_ref(), Some(&alone), "the round reads the refresh token as get_refresh does");
    alone
}

async fn refresh_rotation_and_reuse_revokes_the_family(b: Backend) {
    let (s, _d) = store(b).await;
    let fam = new_jti();
    let r1 = record(&fam, "u1", "c1");
    s.put_refresh(&r1).await.unwrap();
    assert_eq!(read(&s, &r1.token_hash, now()).await, RefreshState::Active(r1.clone()));

    let r2 = record(&fam, "u1", "c1");
    assert_eq!(s.rotate_refresh(&r1.token_hash, &r2, now()).await.unwrap(), Rotation::Rotated);
    assert!(matches!(read(&s, &r1.token_hash, now()).await, RefreshState::Used(_)));
    assert_eq!(read(&s, &r2.token_hash, now()).await, RefreshState::Active(r2.clone()));
    assert!(!s.is_denied(&r2.access_jti).await.unwrap());

    // r1 again: reuse. The family dies, its access tokens are denylisted.
    let r3 = record(&fam, "u1", "c1");
    assert_eq!(s.rotate_refresh(&r1.token_hash, &r3, now()).await.unwrap(), Rotation::Reused { family_id: fam.clone() });
    assert_eq!(read(&s, &r2.token_hash, now()).await, RefreshState::Invalid);
    assert_eq!(read(&s, &r3.token_hash, now()).await, RefreshState::Invalid, "r3 was never stored");
    assert!(s.is_denied(&r1.access_jti).await.unwrap());
    assert!(s.is_denied(&r2.access_jti).await.unwrap());
    // the revoked family cannot rotate any more
    assert_eq!(s.rotate_refresh(&r2.token_hash, &record(&fam, "u1", "c1"), now()).await.unwrap(), Rotation::Invalid);
    // unknown and expired tokens are invalid
    assert_eq!(s.rotate_refresh("nope", &record(&fam, "u1", "c1"), now()).await.unwrap(), Rotation::Invalid);
    let f2 = new_jti();
    let e = record(&f2, "u1", "c1");
    s.put_refresh(&e).await.unwrap();
    assert_eq!(read(&s, &e.token_hash, e.expires_at + 1).await, RefreshState::Invalid);
    assert_eq!(s.rotate_refresh(&e.token_hash, &record(&f2, "u1", "c1"), e.expires_at + 1).await.unwrap(), Rotation::Invalid);
}

async fn parallel_rotation_has_exactly_one_winner(b: Backend) {
    let (s, _d) = store(b).await;
    let fam = new_jti();
    let r1 = record(&fam, "u1", "c1");
    s.put_refresh(&r1).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (s, old) = (s.clone(), r1.token_hash.clone());
            let new = record(&fam, "u1", "c1");
            tokio::spawn(async move { s.rotate_refresh(&old, &new, now()).await.unwrap() })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        if t.await.unwrap() == Rotation::Rotated {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1, "exactly one of 32 concurrent rotations wins");
}

async fn revoking_one_user_at_one_client_touches_nothing_else(b: Backend) {
    let (s, _d) = store(b).await;
    let (u1, u2, c1, c2) = (new_jti(), new_jti(), new_jti(), new_jti());
    let a = record(&new_jti(), &u1, &c1);
    let a2 = record(&new_jti(), &u1, &c1);
    let other_user = record(&new_jti(), &u2, &c1);
    let other_client = record(&new_jti(), &u1, &c2);
    for r in [&a, &a2, &other_user, &other_client] {
        s.put_refresh(r).await.unwrap();
    }
    assert_eq!(s.revoke_user_client(&u1, &c1, now()).await.unwrap(), 2);
    for r in [&a, &a2] {
        assert_eq!(s.get_refresh(&r.token_hash, now()).await.unwrap(), RefreshState::Invalid);
        assert!(s.is_denied(&r.access_jti).await.unwrap());
    }
    for r in [&other_user, &other_client] {
        assert!(matches!(s.get_refresh(&r.token_hash, now()).await.unwrap(), RefreshState::Active(_)));
        assert!(!s.is_denied(&r.access_jti).await.unwrap());
    }
    // revoking a single family
    assert_eq!(s.revoke_family(&other_user.family_id, now()).await.unwrap(), 1);
    assert_eq!(s.get_refresh(&other_user.token_hash, now()).await.unwrap(), RefreshState::Invalid);
    assert!(matches!(s.get_refresh(&other_client.token_hash, now()).await.unwrap(), RefreshState::Active(_)));
}

/// Redis: the index of a user's families at a client lives as long as its
/// longest family. A family rotated past its first token's lifetime must
/// still be found when the user's access is revoked (the index used to
/// expire with the family's first token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_family_index_outlives_every_rotation() {
    let (s, tdb) = store(Backend::PostgresRedis).await;
    let (user, client) = (new_jti(), new_jti());
    let fam = new_jti();
    let first = RefreshRecord { expires_at: now() + 60, ..record(&fam, &user, &client) };
    s.put_refresh(&first).await.unwrap();
    let index = format!("{}uc:{user}|{client}", tdb.prefix);
    let redis = redis::Client::open(tdb.redis_url.as_deref().unwrap()).unwrap();
    let mut con = redis.get_multiplexed_async_connection().await.unwrap();
    let ttl = |con: &mut redis::aio::MultiplexedConnection| {
        let mut con = con.clone();
        let index = index.clone();
        async move { redis::cmd("TTL").arg(&index).query_async::<i64>(&mut con).await.unwrap() }
    };
    let before = ttl(&mut con).await;
    assert!((1..=60 + tessera::store::REPLAY_MEMORY_SECS).contains(&before), "{before}");
    let later = RefreshRecord { expires_at: now() + 86_400, ..record(&fam, &user, &client) };
    assert_eq!(s.rotate_refresh(&first.token_hash, &later, now()).await.unwrap(), Rotation::Rotated);
    assert!(ttl(&mut con).await > 86_000, "the rotation extended the index");
    // a shorter family of the same pair does not shorten it
    let short = RefreshRecord { expires_at: now() + 60, ..record(&new_jti(), &user, &client) };
    s.put_refresh(&short).await.unwrap();
    assert!(ttl(&mut con).await > 86_000);
    assert_eq!(s.revoke_user_client(&user, &client, now()).await.unwrap(), 3, "every token of both families");
    assert_eq!(read(&s, &later.token_hash, now()).await, RefreshState::Invalid);
}

crate::backend_cases!(the_users_family_index_forgets_ended_families: postgres_redis => PostgresRedis, postgres_redis_cluster => PostgresRedisCluster);

/// Redis: the index of a user's families at a client forgets families that
/// have ended, a few checked by each new family, and never a live one; it
/// once grew for as long as its user stayed active (docs/performance.md,
/// soak run 4). Revoking the user's access still reaches every live family.
async fn the_users_family_index_forgets_ended_families(b: Backend) {
    let (s, tdb) = store(b).await;
    let (user, client) = (new_jti(), new_jti());
    let index = format!("{}uc:{user}|{client}", tdb.prefix);
    let live: Vec<RefreshRecord> = (0..8).map(|_| record(&new_jti(), &user, &client)).collect();
    for r in &live {
        s.put_refresh(r).await.unwrap();
    }
    // families whose time is over: their keys expire as they are written
    let ended_at = now() - tessera::store::REPLAY_MEMORY_SECS - 60;
    let ended = 60;
    for _ in 0..ended {
        let r = RefreshRecord { expires_at: ended_at, ..record(&new_jti(), &user, &client) };
        s.put_refresh(&r).await.unwrap();
    }
    let members: Vec<String> = tdb.redis_query(redis::cmd("SMEMBERS").arg(&index)).await;
    for r in &live {
        assert!(members.contains(&r.family_id), "a live family stays indexed");
    }
    // each new family checks 4 members; ended ones settle near a quarter
    // of the index (without the trim, all 60 would still be here)
    assert!(members.len() < live.len() + ended / 2, "{} members", members.len());
    assert_eq!(s.revoke_user_client(&user, &client, now()).await.unwrap(), live.len() as u64);
    for r in &live {
        assert_eq!(read(&s, &r.token_hash, now()).await, RefreshState::Invalid);
    }
}

/// One Redis node upgraded from a version whose refresh keys had no hash
/// tags (`rt:{sha256}`, `fam:{family}`): its families keep working. A token
/// of such a family rotates into the tagged layout, and a reuse of the old
/// one revokes the whole family, old and new members alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_from_before_the_hash_tags_keep_rotating() {
    let (s, tdb) = store(Backend::PostgresRedis).await;
    let (fam, t) = (new_jti(), now());
    let (legacy_hash, legacy_jti) = (tessera::crypto::digest(&random_token(32)), new_jti());
    let redis = redis::Client::open(tdb.redis_url.as_deref().unwrap()).unwrap();
    let mut con = redis.get_multiplexed_async_connection().await.unwrap();
    let p = &tdb.prefix;
    let _: () = redis::pipe()
        .hset_multiple(
            format!("{p}rt:{legacy_hash}"),
            &[("family", fam.as_str()), ("client", "c1"), ("user", "u1"), ("data", "{}"), ("exp", &(t + 3600).to_string()), ("jti", &legacy_jti), ("jexp", &(t + 900).to_string()), ("used", "0")],
        )
        .sadd(format!("{p}fam:{fam}"), &legacy_hash)
        .expire(format!("{p}fam:{fam}"), 4000)
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(matches!(s.get_refresh(&legacy_hash, t).await.unwrap(), RefreshState::Active(_)));
    let next = record(&fam, "u1", "c1");
    assert_eq!(s.rotate_refresh(&legacy_hash, &next, t).await.unwrap(), Rotation::Rotated);
    assert!(matches!(s.get_refresh(&next.token_hash, t).await.unwrap(), RefreshState::Active(_)));
    // the old token again: reuse, and both layouts of the family go
    assert_eq!(s.rotate_refresh(&legacy_hash, &record(&fam, "u1", "c1"), t).await.unwrap(), Rotation::Reused { family_id: fam.clone() });
    assert_eq!(s.get_refresh(&next.token_hash, t).await.unwrap(), RefreshState::Invalid);
    assert_eq!(s.get_refresh(&legacy_hash, t).await.unwrap(), RefreshState::Invalid);
    assert!(s.is_denied(&legacy_jti).await.unwrap() && s.is_denied(&next.access_jti).await.unwrap());
}

/// A used refresh token keeps only what reuse and revocation need, and only
/// while the access token issued beside it lives (its data is dropped at
/// once); after that its family's set alone remembers it, and presenting it
/// is still reuse that revokes the family (docs/capacity.md: what a used
/// token costs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_token_shrinks_to_its_place_in_the_family() {
    let (s, tdb) = store(Backend::PostgresRedis).await;
    let (fam, t) = (new_jti(), now());
    let r1 = record(&fam, "u1", "c1");
    s.put_refresh(&r1).await.unwrap();
    let r2 = record(&fam, "u1", "c1");
    assert_eq!(s.rotate_refresh(&r1.token_hash, &r2, t).await.unwrap(), Rotation::Rotated);

    let redis = redis::Client::open(tdb.redis_url.as_deref().unwrap()).unwrap();
    let mut con = redis.get_multiplexed_async_connection().await.unwrap();
    let (f, rest) = r1.token_hash.split_once('.').unwrap();
    let used_key = format!("{}rt:{{{f}}}.{rest}", tdb.prefix);
    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL").arg(&used_key).query_async(&mut con).await.unwrap();
    assert_eq!(fields.get("used").map(String::as_str), Some("1"));
    assert!(!fields.contains_key("data"), "a used token's data is dropped: {fields:?}");
    let expire_at: i64 = redis::cmd("EXPIRETIME").arg(&used_key).query_async(&mut con).await.unwrap();
    assert_eq!(expire_at, r1.access_exp + tessera::store::DENY_MARGIN_SECS, "kept while its access token lives");

    // its record gone, as when that time has passed: still reuse
    let _: i64 = redis::cmd("DEL").arg(&used_key).query_async(&mut con).await.unwrap();
    match s.get_refresh(&r1.token_hash, t).await.unwrap() {
        RefreshState::Used(r) => assert_eq!((r.family_id.as_str(), r.client_id.as_str(), r.user_id.as_str()), (fam.as_str(), "c1", "u1")),
        other => panic!("a used token known by its family: {other:?}"),
    }
    // a handle its family never listed is unknown, not reuse
    let stranger = record(&fam, "u1", "c1");
    assert_eq!(s.get_refresh(&stranger.token_hash, t).await.unwrap(), RefreshState::Invalid);
    assert_eq!(s.rotate_refresh(&stranger.token_hash, &record(&fam, "u1", "c1"), t).await.unwrap(), Rotation::Invalid);
    assert_eq!(s.get_refresh(&r2.token_hash, t).await.unwrap(), RefreshState::Active(r2.clone()), "and changes nothing");
    assert_eq!(s.rotate_refresh(&r1.token_hash, &record(&fam, "u1", "c1"), t).await.unwrap(), Rotation::Reused { family_id: fam.clone() });
    assert_eq!(s.get_refresh(&r2.token_hash, t).await.unwrap(), RefreshState::Invalid, "the family is revoked");
    assert!(s.is_denied(&r2.access_jti).await.unwrap());
    assert_eq!(s.get_refresh(&r1.token_hash, t).await.unwrap(), RefreshState::Invalid, "a revoked family's tokens are invalid");
}

/// The embedded database's writers leave its WAL to the background
/// checkpoint (`db::checkpoint`): past the 1,000 pages at which SQLite's
/// writer would checkpoint inside its own commit, the WAL keeps growing,
/// and one passive checkpoint then copies every page of it. PostgreSQL has
/// no WAL of ours to checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_database_is_checkpointed_outside_its_writers() {
    let tdb = TestDb::new(Backend::Embedded).await;
    let db = tessera::db::connect(&tdb.url).await.unwrap();
    tessera::db::migrate(&db).await.unwrap();
    let s = SqlStore::new(db.clone());
    let wal = tdb.dir.path().join("tessera.db-wal");
    // a WAL frame is a 4 KB page and its 24-byte header
    let wal_frames = || std::fs::metadata(&wal).map(|m| m.len() / (4096 + 24)).unwrap_or(0);
    let mut writes = 0;
    while wal_frames() <= 1_200 && writes < 20_000 {
        s.put_refresh(&record(&new_jti(), "u1", "c1")).await.unwrap();
        writes += 1;
    }
    assert!(wal_frames() > 1_200, "{writes} writes left the WAL at {} pages: a writer checkpointed it", wal_frames());
    let (held, copied) = tessera::db::checkpoint(&db).await.unwrap().expect("SQLite has a WAL");
    assert!(held > 1_000 && copied == held, "held {held}, copied {copied}");
    // the next writer starts the WAL again from its beginning
    s.put_refresh(&record(&new_jti(), "u1", "c1")).await.unwrap();
    let (held, _) = tessera::db::checkpoint(&db).await.unwrap().expect("SQLite has a WAL");
    assert!(held < 100, "the WAL restarted: {held} pages");

    let pg = TestDb::new(Backend::PostgresSql).await;
    let pg_db = tessera::db::connect(&pg.url).await.unwrap();
    assert_eq!(tessera::db::checkpoint(&pg_db).await.unwrap(), None);
}
