//! People sign themselves up as developers (`TESSERA_DEVELOPER_SIGNUP`), and
//! admins manage accounts: approve developers, set roles, disable, unlock.
use tessera::config::SignupMode;

use crate::both_backends;
use crate::cli::{json as cli_json, tessera};
use crate::support::{browser, count_rows, hidden, start, start_with, user, Backend, TestDb, TestServer, PASSWORD};
use crate::web::signed_in;

both_backends!(developers_sign_themselves_up, admins_manage_accounts);

async fn sign_up(s: &TestServer, b: &reqwest::Client, username: &str, password: &str) -> reqwest::Response {
    let html = b.get(s.url("/signup")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("username", username.into()), ("email", format!("{username}@example.com")), ("password", password.into())];
    b.post(s.url("/signup")).form(&form).send().await.unwrap()
}

async fn status_of(b: &reqwest::Client, url: String) -> u16 {
    b.get(url).send().await.unwrap().status().as_u16()
}

async fn developers_sign_themselves_up(be: Backend) {
    // approval (the default): an account at once, the portal after an admin approves
    let s = start(be).await;
    user(&s.db, "root", "admin").await;
    let login = browser().get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(login.contains("href=\"/signup\""), "the login page offers a sign-up");
    let users_before = count_rows(&s.db, "users").await;
    let b = browser();
    let r = sign_up(&s, &b, "dana", "short").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at least 8 characters"));
    let r = sign_up(&s, &b, "root", PASSWORD).await;
    assert_eq!(r.status(), 400, "a taken name");
    assert_eq!(count_rows(&s.db, "users").await, users_before, "refusals create nothing");
    let r = sign_up(&s, &b, "dana", PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account");
    let account = b.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(account.contains("developer-pending"), "the account page says it waits");
    assert_eq!(status_of(&b, s.url("/portal")).await, 403);
    // the admin sees the request and approves it: the same session opens the portal
    let admin = signed_in(&s, "root").await;
    let console = admin.get(s.url("/admin")).send().await.unwrap().text().await.unwrap();
    assert!(console.contains("asks to be a developer"));
    let dana = tessera::registry::users::find_by_username(&s.db, "dana").await.unwrap().unwrap();
    let r = admin.post(s.url(&format!("/admin/users/{}/approve", dana.user_id))).form(&[("csrf", hidden(&console, "csrf"))]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("dana is developer"));
    assert_eq!(status_of(&b, s.url("/portal")).await, 200);
    // or from the command line; approving someone who asked for nothing is refused
    assert_eq!(sign_up(&s, &browser(), "eli", PASSWORD).await.status(), 303);
    assert_eq!(cli_json(&tessera(&s, &["user", "approve", "eli", "--json"]))["role"], "developer");
    assert!(!tessera(&s, &["user", "approve", "root", "--json"]).ok);

    // open: a developer at once, within a budget per address
    let s = start_with(TestDb::new(be).await, |c| c.developer_signup = SignupMode::Open).await;
    let b = browser();
    let r = sign_up(&s, &b, "fay", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/portal");
    assert_eq!(status_of(&b, s.url("/portal")).await, 200);
    let mut statuses = vec![];
    for i in 0..tessera::http::signup::SIGNUPS_PER_MIN_ADDRESS {
        statuses.push(sign_up(&s, &browser(), &format!("bot{i}"), "x").await.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 400).count() as i64, tessera::http::signup::SIGNUPS_PER_MIN_ADDRESS - 1);
    assert_eq!(statuses.last(), Some(&429));

    // closed: no page, no link
    let s = start_with(TestDb::new(be).await, |c| c.developer_signup = SignupMode::Closed).await;
    assert_eq!(status_of(&browser(), s.url("/signup")).await, 404);
    assert!(!browser().get(s.url("/login")).send().await.unwrap().text().await.unwrap().contains("/signup"));
}

async fn admins_manage_accounts(be: Backend) {
    let s = start(be).await;
    let root = user(&s.db, "root", "admin").await;
    let gus = user(&s.db, "gus", "user").await;
    let admin = signed_in(&s, "root").await;
    let console = admin.get(s.url("/admin")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&console, "csrf");
    let act = |id: &str, what: &str, role: &str| {
        let (admin, url, form) = (admin.clone(), s.url(&format!("/admin/users/{id}/{what}")), [("csrf", csrf.clone()), ("role", role.to_string())]);
        async move { admin.post(url).form(&form).send().await.unwrap().text().await.unwrap() }
    };

    // set a role, and not one's own
    assert!(act(&gus, "role", "developer").await.contains("gus is developer"));
    assert!(act(&gus, "role", "wizard").await.contains("role must be one of"));
    assert!(act(&root, "role", "user").await.contains("cannot"));
    assert_eq!(tessera::registry::users::get(&s.db, &root).await.unwrap().unwrap().role, "admin");

    // disable: gus cannot sign in; enable: he can
    let gus_browser = signed_in(&s, "gus").await;
    assert!(act(&gus, "disable", "").await.contains("gus is disabled"));
    assert_eq!(status_of(&gus_browser, s.url("/account")).await, 302, "his session ended");
    let login = browser().get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&login, "csrf")), ("authz", String::new()), ("username", "gus".into()), ("password", PASSWORD.into())];
    assert_eq!(browser().post(s.url("/login")).form(&form).send().await.unwrap().status(), 403);
    act(&gus, "enable", "").await;

    // unlock: five wrong passwords lock the name; an admin lifts the lock
    let b = browser();
    for _ in 0..tessera::registry::users::LOCK_AFTER {
        let html = b.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
        let form = [("csrf", hidden(&html, "csrf")), ("authz", String::new()), ("username", "gus".into()), ("password", "wrong-password".into())];
        b.post(s.url("/login")).form(&form).send().await.unwrap();
    }
    let html = b.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("authz", String::new()), ("username", "gus".into()), ("password", PASSWORD.into())];
    assert_eq!(b.post(s.url("/login")).form(&form).send().await.unwrap().status(), 429, "locked");
    assert!(act(&gus, "unlock", "").await.contains("gus may sign in again"));
    signed_in(&s, "gus").await;

    // the JSON API lists and acts too; the console names people beside their ids in the audit trail
    let (ops, secret) = crate::support::machine_client(&s.db, "tessera:admin").await;
    let token = s.client_credentials(&ops, &secret, Some("tessera:admin")).await;
    let list: serde_json::Value = s.http.get(s.url("/admin/api/users")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert!(list.as_array().unwrap().iter().any(|u| u["username"] == "gus" && u["role"] == "developer"));
    let r = s.http.post(s.url(&format!("/admin/api/users/{gus}/role"))).bearer_auth(&token).json(&serde_json::json!({"role": "user"})).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["role"], "user");
    let console = admin.get(s.url("/admin")).send().await.unwrap().text().await.unwrap();
    let audit = console.split("Recent audit events").nth(1).unwrap();
    assert!(audit.contains("user.role_changed") && audit.contains(&format!("gus <code class=\"small\">{gus}</code>")), "{audit}");
}
