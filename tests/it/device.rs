//! The device authorization grant (RFC 8628): a device gets a pair of
//! codes, polls; a person signs in at /device, enters the code, sees the app
//! and its scopes, allows or denies; the device gets its tokens once.

use crate::both_backends;
use crate::support::{browser, hidden, start, user, verify_offline, Backend, Stored, TestServer};

both_backends!(a_device_gets_tokens_once_after_its_user_allows, denied_expired_and_refused_requests, wrong_user_codes_are_bounded_per_session_and_address,);

const URN: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public TV app registered with the short form of the grant.
async fn tv_app(s: &TestServer, grants: &[&str]) -> String {
    crate::support::device_app(&s.db, grants).await
}

async fn start_device(s: &TestServer, client_id: &str, scope: &str) -> reqwest::Response {
    s.http.post(s.url("/device_authorization")).form(&[("client_id", client_id), ("scope", scope)]).send().await.unwrap()
}

async fn poll(s: &TestServer, client_id: &str, device_code: &str) -> (u16, serde_json::Value) {
    let r = s.http.post(s.url("/token")).form(&[("grant_type", URN), ("device_code", device_code), ("client_id", client_id)]).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn a_device_gets_tokens_once_after_its_user_allows(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let tv = tv_app(&s, &["device_code", "refresh_token"]).await;
    let meta: serde_json::Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["device_authorization_endpoint"], s.url("/device_authorization"));
    assert!(meta["grant_types_supported"].as_array().unwrap().contains(&URN.into()));

    let r = start_device(&s, &tv, "openid read:data").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    let device_code = v["device_code"].as_str().unwrap().to_string();
    let user_code = v["user_code"].as_str().unwrap().to_string();
    assert!(device_code.len() >= 43, "256 bits: {device_code}");
    let (left, right) = user_code.split_once('-').unwrap();
    assert!(left.len() == 4 && right.len() == 4 && user_code.replace('-', "").bytes().all(|c| b"BCDFGHJKLMNPQRSTVWXZ".contains(&c)), "{user_code}");
    assert_eq!(v["verification_uri"], s.url("/device"));
    assert_eq!(v["interval"], 5);
    assert_eq!(v["expires_in"], 600);
    let complete = v["verification_uri_complete"].as_str().unwrap().to_string();
    assert!(complete.starts_with(&s.url("/device?user_code=")) && complete.contains(&user_code), "{complete}");
    // the store keeps the device code's hash, never the code
    assert_eq!(s.tdb.stored(Stored::DeviceCodes).await, 1);
    let keyed_by_hash = match &s.tdb.redis_url {
        None => crate::support::count_where(&s.db, "device_codes", &format!("device_hash = '{}'", tessera::crypto::digest(&device_code))).await == 1,
        Some(u) => {
            let mut con = redis::Client::open(u.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
            redis::cmd("EXISTS").arg(format!("{}dev:{}", s.tdb.prefix, tessera::crypto::digest(&device_code))).query_async::<i64>(&mut con).await.unwrap() == 1
        }
    };
    assert!(keyed_by_hash);

    // polling before the user decides, and polling too fast
    let (st, e) = poll(&s, &tv, &device_code).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("authorization_pending")), "{e}");
    let (st, e) = poll(&s, &tv, &device_code).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("slow_down")), "{e}");

    // the person: sign in, the code pre-filled, confirm it, see the app and its scopes, allow
    let br = browser();
    let page = s.sign_in_at_device(&br, "alice", &complete).await;
    assert!(page.contains(&format!("value=\"{user_code}\"")), "pre-filled: {page}");
    let r = s.enter_user_code(&br, &page, &user_code.to_lowercase().replace('-', " ")).await;
    assert_eq!(r.status(), 200);
    let consent = r.text().await.unwrap();
    assert!(consent.contains("Living-room TV") && consent.contains("read:data") && consent.contains(&user_code), "{consent}");
    let r = s.decide_device(&br, &consent, "allow").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Device connected"));
    // decided once
    assert_eq!(s.decide_device(&br, &consent, "deny").await.status(), 400);

    // the device's next poll gets the tokens, once
    let (st, tokens) = poll(&s, &tv, &device_code).await;
    assert_eq!(st, 200, "{tokens}");
    let claims = verify_offline(&s, tokens["access_token"].as_str().unwrap(), "https://api.example.com").await.unwrap();
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["client_id"], tv.as_str());
    assert_eq!(claims["scope"], "openid read:data");
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");
    let (st, e) = poll(&s, &tv, &device_code).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");

    // a refresh works like the code flow's; the grant is a connected app, and revoking it ends the tokens
    let r = s.refresh(&tv, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    let refreshed: serde_json::Value = r.json().await.unwrap();
    let apps: serde_json::Value = br.get(s.url("/account/api/grants")).send().await.unwrap().json().await.unwrap();
    assert!(apps.as_array().unwrap().iter().any(|a| a["client_name"] == "Living-room TV"), "{apps}");
    let account = br.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    let r = br.delete(s.url(&format!("/account/api/grants/{tv}"))).header("x-csrf-token", hidden(&account, "csrf")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.refresh(&tv, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 400);
}

async fn denied_expired_and_refused_requests(b: Backend) {
    let s = start(b).await;
    user(&s.db, "bob", "user").await;
    let tv = tv_app(&s, &["device_code"]).await;

    // denied
    let v: serde_json::Value = start_device(&s, &tv, "read:data").await.json().await.unwrap();
    let br = browser();
    let page = s.sign_in_at_device(&br, "bob", v["verification_uri_complete"].as_str().unwrap()).await;
    let consent = s.enter_user_code(&br, &page, v["user_code"].as_str().unwrap()).await.text().await.unwrap();
    let r = s.decide_device(&br, &consent, "deny").await;
    assert!(r.text().await.unwrap().contains("Request denied"));
    let (st, e) = poll(&s, &tv, v["device_code"].as_str().unwrap()).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("access_denied")), "{e}");
    // no tokens, and no connected app
    let apps: serde_json::Value = br.get(s.url("/account/api/grants")).send().await.unwrap().json().await.unwrap();
    assert_eq!(apps, serde_json::json!([]));

    // expired: a request whose time ran out, as the store keeps it
    let code = tessera::crypto::random_token(32);
    let rec = tessera::store::DeviceRecord {
        device_hash: tessera::crypto::digest(&code),
        user_code: "BBBBCCCC".into(),
        client_id: tv.clone(),
        data: r#"{"scopes":["read:data"]}"#.into(),
        expires_at: tessera::db::now() - 1,
    };
    assert!(s.tdb.store().await.put_device(&rec).await.unwrap());
    let (st, e) = poll(&s, &tv, &code).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("expired_token")), "{e}");

    // refusals write nothing
    let before = s.tdb.stored(Stored::DeviceCodes).await;
    let (machine, secret) = crate::support::machine_client(&s.db, "read:data").await;
    let r = s.post_basic("/device_authorization", &machine, &secret, &[("scope", "read:data")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "unauthorized_client");
    let r = start_device(&s, &tv, "write:data").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_scope");
    let r = start_device(&s, "no-such-client", "read:data").await;
    assert_eq!(r.status(), 401);
    assert_eq!(s.tdb.stored(Stored::DeviceCodes).await, before);

    // the token endpoint names the grant by its URN only; another client's device code is invalid
    let v: serde_json::Value = start_device(&s, &tv, "read:data").await.json().await.unwrap();
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[("grant_type", "device_code"), ("device_code", v["device_code"].as_str().unwrap()), ("client_id", &tv)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "unsupported_grant_type");
    let other = tv_app(&s, &["device_code"]).await;
    let (st, e) = poll(&s, &other, v["device_code"].as_str().unwrap()).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (_, e) = poll(&s, &tv, v["device_code"].as_str().unwrap()).await;
    assert_eq!(e["error"], "authorization_pending", "another client's poll changed nothing");
}

async fn wrong_user_codes_are_bounded_per_session_and_address(b: Backend) {
    let s = start(b).await;
    user(&s.db, "carol", "user").await;
    let tv = tv_app(&s, &["device_code"]).await;
    let v: serde_json::Value = start_device(&s, &tv, "read:data").await.json().await.unwrap();
    let right = v["user_code"].as_str().unwrap();

    // one session: five wrong codes, then even the right one waits
    let br = browser();
    let page = s.sign_in_at_device(&br, "carol", &s.url("/device")).await;
    for _ in 0..tessera::oauth::device::GUESSES_PER_MIN_SESSION {
        let r = s.enter_user_code(&br, &page, "BCDF-BCDF").await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("not valid"));
    }
    let r = s.enter_user_code(&br, &page, right).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));

    // a right code costs nothing; fresh sessions from the same address share its budget
    use tessera::oauth::device::{GUESSES_PER_MIN_ADDRESS, GUESSES_PER_MIN_SESSION};
    let mut spent = GUESSES_PER_MIN_SESSION;
    loop {
        let br = browser();
        let page = s.sign_in_at_device(&br, "carol", &s.url("/device")).await;
        if spent == GUESSES_PER_MIN_ADDRESS {
            assert_eq!(s.enter_user_code(&br, &page, right).await.status(), 429, "the address's budget is spent");
            assert_eq!(s.enter_user_code(&br, &page, "BCDF-BCDF").await.status(), 429);
            break;
        }
        assert_eq!(s.enter_user_code(&br, &page, right).await.status(), 200, "the right code is not a guess");
        for _ in 0..GUESSES_PER_MIN_SESSION.min(GUESSES_PER_MIN_ADDRESS - spent) {
            assert_eq!(s.enter_user_code(&br, &page, "BCDF-BCDF").await.status(), 400);
            spent += 1;
        }
    }
    assert_eq!(spent, tessera::oauth::device::GUESSES_PER_MIN_ADDRESS);
}
