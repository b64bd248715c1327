//! Server-side sessions: a signed-in cookie counts only while the token
//! store has its session, so logging out or revoking a user's sessions ends
//! them everywhere, a copied cookie included.
use crate::both_backends;
use crate::support::{hidden, start, start_with, user, Backend, TestDb, TestServer, PASSWORD};

both_backends!(a_cookie_saved_before_logout_signs_no_one_in, revoking_a_users_sessions_signs_them_out_everywhere, a_disabled_account_holds_nothing);

/// Sign in by hand and return the session cookie (`name=value`) the login set.
async fn sign_in(s: &TestServer, username: &str) -> String {
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = b.get(s.url("/login")).send().await.unwrap();
    let anonymous = cookie_of(&r);
    let html = r.text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("authz", String::new()), ("username", username.into()), ("password", PASSWORD.into())];
    let r = b.post(s.url("/login")).header("cookie", anonymous).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    cookie_of(&r)
}

fn cookie_of(r: &reqwest::Response) -> String {
    let set = r.headers().get("set-cookie").expect("a session cookie").to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// GET /account with exactly this cookie: 200 when signed in, 302 to /login otherwise.
async fn account_with(s: &TestServer, cookie: &str) -> u16 {
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    b.get(s.url("/account")).header("cookie", cookie).send().await.unwrap().status().as_u16()
}

async fn a_cookie_saved_before_logout_signs_no_one_in(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let saved = sign_in(&s, "alice").await;
    assert_eq!(account_with(&s, &saved).await, 200);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let html = client.get(s.url("/account")).header("cookie", &saved).send().await.unwrap().text().await.unwrap();
    let r = client.post(s.url("/logout")).header("cookie", &saved).form(&[("csrf", hidden(&html, "csrf"))]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(account_with(&s, &saved).await, 302, "the cookie from before the logout is not signed in");
}

async fn revoking_a_users_sessions_signs_them_out_everywhere(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    user(&s.db, "bob", "user").await;
    let (laptop, phone, bobs) = (sign_in(&s, "alice").await, sign_in(&s, "alice").await, sign_in(&s, "bob").await);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["user", "sessions", "revoke", "alice", "--json"])
        .envs(s.tdb.env())
        .output()
        .expect("run tessera");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessions_ended"], 2);
    assert_eq!(account_with(&s, &laptop).await, 302);
    assert_eq!(account_with(&s, &phone).await, 302);
    assert_eq!(account_with(&s, &bobs).await, 200, "bob stays signed in");
}

/// `tessera user disable`: the account's sessions end, its tokens are
/// revoked at every app, and it cannot sign in (the right password gets a
/// page saying so) nor use the password grant; enabled again, it signs in.
async fn a_disabled_account_holds_nothing(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (app, _) = crate::support::app(&s.db, "public", "openid read:data").await;
    let tok = s.tokens_for(&app, "alice", "openid read:data").await;
    let session = sign_in(&s, "alice").await;
    let cli = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).envs(s.tdb.env()).output().expect("run tessera");
    let out = cli(&["user", "disable", "alice", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["disabled"], true);

    assert_eq!(account_with(&s, &session).await, 302, "her session ended");
    let r = s.refresh(&app, tok["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 400, "her refresh token was revoked");
    let r = s.http.get(s.url("/userinfo")).bearer_auth(tok["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 401, "her access token was denylisted");
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = b.get(s.url("/login")).send().await.unwrap();
    let anonymous = cookie_of(&r);
    let html = r.text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("authz", String::new()), ("username", "alice".into()), ("password", PASSWORD.into())];
    let r = b.post(s.url("/login")).header("cookie", anonymous).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("This account is disabled."));

    let (legacy, secret) = crate::support::legacy_client(&s.db).await;
    let r = s.post_basic("/token", &legacy, &secret, &[("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)]).await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!((v["error"].as_str(), v["error_description"].as_str()), (Some("invalid_grant"), Some("the account is disabled")));

    assert!(cli(&["user", "enable", "alice"]).status.success());
    let again = sign_in(&s, "alice").await;
    assert_eq!(account_with(&s, &again).await, 200);
}

/// With an https issuer the cookie is `__Host-` prefixed and Secure, so a
/// sibling subdomain cannot plant one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_host_prefixed_with_an_https_issuer() {
    let s = start_with(TestDb::new(Backend::Embedded).await, |c| c.issuer = c.issuer.replace("http://", "https://")).await;
    let r = s.http.get(s.url("/login")).send().await.unwrap();
    let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(set.starts_with("__Host-tessera_session="), "{set}");
    assert!(set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"), "{set}");
}
