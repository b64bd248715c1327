//! What developers and admins see of an app and change on it: settings
//! (narrowing the scopes takes them back from users), tier and limit, and
//! 30 days of tokens and 429s drawn as a chart.
use serde_json::json;

use crate::both_backends;
use crate::support::{hidden, limited_client, start, user, Backend};
use crate::web::{page, register, signed_in, text_of};

both_backends!(developers_edit_their_apps_and_see_their_days, admins_change_any_client, daily_counts_are_written_and_read_back);

async fn developers_edit_their_apps_and_see_their_days(be: Backend) {
    let s = start(be).await;
    user(&s.db, "dev", "developer").await;
    user(&s.db, "alice", "user").await;
    let b = signed_in(&s, "dev").await;
    let html = register(&s, &b, "Notes", &[("client_type", "public"), ("machine", "0"), ("scope", "write:data")]).await.text().await.unwrap();
    let id = text_of(&html, "client-id");
    let tokens = s.tokens_for(&id, "alice", "read:data write:data").await;

    // the app's page: its tier and limit, and the day's token in the chart
    let (_, html) = page(&b, s.url(&format!("/portal/apps/{id}"))).await;
    assert_eq!(text_of(&html, "limit"), "free: 100 requests a minute");
    assert_eq!(text_of(&html, "limited"), "0");
    assert!(html.contains("<svg class=\"chart\"") && html.contains("Last 30 days: 1 tokens issued, 0 requests refused"), "{html}");

    // name and description change; narrowing the scopes takes write:data back from alice
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("name", "Notes Pro".into()),
        ("description", "Your notes, everywhere".into()),
        ("redirect_uris", crate::support::REDIRECT.into()),
        ("scope", "openid".into()),
        ("scope", "read:data".into()),
    ];
    let r = b.post(s.url(&format!("/portal/apps/{id}/edit"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let c = tessera::registry::clients::get(&s.db, &id).await.unwrap();
    assert_eq!((c.name.as_str(), c.description.as_str()), ("Notes Pro", "Your notes, everywhere"));
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let v = s.introspect(&rs, &rs_secret, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(v["active"], false, "the access token that carried write:data is revoked");
    let r = s.refresh(&id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["scope"], "read:data", "refreshed tokens carry what is still granted");
    let grant = tessera::registry::consents::find(&s.db, &user_id_of(&s, "alice").await, &id).await.unwrap().unwrap();
    assert_eq!(grant.scopes, ["read:data"], "the consent shrank with the app");
    // an empty name is refused and changes nothing
    let form = [("csrf", hidden(&html, "csrf")), ("name", String::new()), ("redirect_uris", crate::support::REDIRECT.into()), ("scope", "read:data".into())];
    assert_eq!(b.post(s.url(&format!("/portal/apps/{id}/edit"))).form(&form).send().await.unwrap().status(), 400);
    assert_eq!(tessera::registry::clients::get(&s.db, &id).await.unwrap().name, "Notes Pro");
}

async fn user_id_of(s: &crate::support::TestServer, name: &str) -> String {
    tessera::registry::users::find_by_username(&s.db, name).await.unwrap().unwrap().user_id
}

async fn admins_change_any_client(be: Backend) {
    let s = start(be).await;
    user(&s.db, "root", "admin").await;
    // a client over its limit: one token, then a 429
    let (id, secret) = limited_client(&s.db, "read:data", Some(2)).await;
    s.client_credentials(&id, &secret, None).await;
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 429);

    // the console's client page: the limit, the 429, the chart
    let admin = signed_in(&s, "root").await;
    let (status, html) = page(&admin, s.url(&format!("/admin/clients/{id}"))).await;
    assert_eq!(status, 200);
    assert!(html.contains("<title>Machine · Admin · Tessera</title>"), "the page's title is its name alone");
    assert_eq!(text_of(&html, "limit"), "free: 2 requests a minute");
    assert_eq!(text_of(&html, "limited"), "1");
    assert!(html.contains("Last 30 days: 1 tokens issued, 1 requests refused by the rate limit (429)"));
    let console = page(&admin, s.url("/admin")).await.1;
    assert!(console.contains(&format!("href=\"/admin/clients/{id}\"")));

    // the console changes tier, limit and origins; a bad limit changes nothing
    let form = [("csrf", hidden(&html, "csrf")), ("name", "Machine".into()), ("scope", "read:data".into()), ("tier", "pro".into()), ("rate_limit", "lots".into())];
    assert_eq!(admin.post(s.url(&format!("/admin/clients/{id}/edit"))).form(&form).send().await.unwrap().status(), 400);
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("name", "Machine".into()),
        ("scope", "read:data".into()),
        ("tier", "pro".into()),
        ("rate_limit", "".into()),
        ("allowed_origins", "https://ops.example.com".into()),
    ];
    let r = admin.post(s.url(&format!("/admin/clients/{id}/edit"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(text_of(&r.text().await.unwrap(), "limit"), "pro: 2 requests a minute", "an explicit limit stays unless changed");
    let c = tessera::registry::clients::get(&s.db, &id).await.unwrap();
    assert_eq!((c.tier.as_str(), c.allowed_origins.clone()), ("pro", vec!["https://ops.example.com".to_string()]));

    // the admin API changes what it is given and nothing else; refusals change nothing
    let (ops, ops_secret) = crate::support::machine_client(&s.db, "tessera:admin").await;
    let token = s.client_credentials(&ops, &ops_secret, Some("tessera:admin")).await;
    let url = s.url(&format!("/admin/api/clients/{id}"));
    let r = s.http.patch(&url).bearer_auth(&token).json(&json!({"name": "Exporter", "rate_limit": 500})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!((v["name"].as_str(), v["rate_limit"].as_i64(), v["tier"].as_str()), (Some("Exporter"), Some(500), Some("pro")));
    assert_eq!(v["allowed_origins"], json!(["https://ops.example.com"]));
    let r = s.http.patch(&url).bearer_auth(&token).json(&json!({"scopes": ["launch:missiles"]})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(tessera::registry::clients::get(&s.db, &id).await.unwrap().scopes, ["read:data"]);
}

/// The tally the hot paths count into is written to `client_daily` and read back per day.
async fn daily_counts_are_written_and_read_back(be: Backend) {
    let s = start(be).await;
    let store = s.tdb.store().await;
    let tally = tessera::registry::usage::Tally::default();
    let now = tessera::db::now();
    for _ in 0..3 {
        tally.token("c1");
    }
    tally.limited("c1");
    tally.token("c2");
    assert_eq!(tally.unwritten_today("c1"), (3, 1));
    tally.flush(&s.db, store.as_ref(), now).await;
    assert_eq!(tally.unwritten_today("c1"), (0, 0));
    tally.token("c1");
    tally.flush(&s.db, store.as_ref(), now).await;
    let days = tessera::registry::usage::last_days(&s.db, "c1", 30, now, (1, 0)).await.unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!((days[29].tokens, days[29].limited), (5, 1), "two flushes add up, plus the unwritten one");
    assert!(days[..29].iter().all(|d| d.tokens == 0 && d.limited == 0));
    assert_eq!(days[0].day + 29, days[29].day);
    assert_eq!(store.usage("c1").await.unwrap(), 4, "the running total goes to the store");
    // the next day starts at zero
    let tomorrow = tessera::registry::usage::last_days(&s.db, "c1", 2, now + 86_400, (0, 0)).await.unwrap();
    assert_eq!(tomorrow[1].tokens, 0);
    assert_eq!(tomorrow[0].tokens, 4);
}
