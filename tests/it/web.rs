//! The web pages over HTTP: developer portal, admin console, admin JSON API.
//! (`e2e.rs` drives the same pages in a real browser.)
use crate::both_backends;
use crate::support::{browser, count_rows, hidden, start, user, Backend, TestServer, PASSWORD, REDIRECT};

both_backends!(developer_portal_lifecycle, roles_and_csrf_are_enforced, admin_console_and_json_api, an_admins_suspension_holds_against_the_developer, machine_scopes_open_to_all_need_no_approval);

/// A browser signed in as `username`.
pub async fn signed_in(s: &TestServer, username: &str) -> reqwest::Client {
    let b = browser();
    let html = b.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let r = b
        .post(s.url("/login"))
        .form(&[("csrf", hidden(&html, "csrf")), ("authz", String::new()), ("username", username.into()), ("password", PASSWORD.into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    b
}

pub(crate) async fn page(b: &reqwest::Client, url: String) -> (u16, String) {
    let r = b.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) fn text_of(html: &str, id: &str) -> String {
    let needle = format!("id=\"{id}\">");
    let start = html.find(&needle).unwrap_or_else(|| panic!("no #{id}")) + needle.len();
    html[start..start + html[start..].find('<').unwrap()].to_string()
}

pub(crate) async fn register(s: &TestServer, b: &reqwest::Client, name: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let (_, html) = page(b, s.url("/portal")).await;
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), hidden(&html, "csrf")),
        ("name".into(), name.into()),
        ("description".into(), "Syncs things".into()),
        ("client_type".into(), "confidential".into()),
        ("machine".into(), "1".into()),
        ("redirect_uris".into(), format!("{REDIRECT}\r\nhttps://app.example.com/cb")),
        ("scope".into(), "openid".into()),
        ("scope".into(), "read:data".into()),
    ];
    // extra values replace the defaults, except scopes, which add up
    form.retain(|(k, _)| k == "scope" || !extra.iter().any(|(e, _)| e == k));
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b.post(s.url("/portal/apps")).form(&form).send().await.unwrap()
}

async fn developer_portal_lifecycle(be: Backend) {
    let s = start(be).await;
    user(&s.db, "dev", "developer").await;
    user(&s.db, "alice", "user").await;
    let b = signed_in(&s, "dev").await;

    let r = register(&s, &b, "Zapier", &[]).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let id = text_of(&html, "client-id");
    let secret = text_of(&html, "client-secret");
    assert!(tessera::crypto::is_secret_shaped(&secret), "{secret}");
    // a self-registered machine app with a scope not open to machines waits
    // for an admin: the developer sees it, its tokens are refused until then
    assert!(text_of(&html, "machine-pending").contains("waiting for an admin"));
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "read:data")]).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized_client");
    assert!(v["error_description"].as_str().unwrap().contains("approved"), "{v}");
    let approved = std::process::Command::new(env!("CARGO_BIN_EXE_tessera")).args(["client", "approve", &id, "--json"]).envs(s.tdb.env()).output().unwrap();
    assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
    // the secret works, and is never shown again
    s.client_credentials(&id, &secret, Some("read:data")).await;
    let (status, html) = page(&b, s.url(&format!("/portal/apps/{id}"))).await;
    assert_eq!(status, 200);
    assert!(!html.contains(&secret) && !html.contains("client-secret"));
    assert!(html.contains("Zapier") && !html.contains("machine-pending"));

    // a user authorizes its public twin: that app's usage shows one user and
    // her token; the machine app shows its own token and no user
    let twin = id_public_twin(&s, &b).await;
    let tok = s.tokens_for(&twin, "alice", "read:data").await;
    assert!(tok["access_token"].is_string());
    let (_, html) = page(&b, s.url(&format!("/portal/apps/{twin}"))).await;
    assert_eq!((text_of(&html, "users"), text_of(&html, "tokens")), ("1".into(), "1".into()), "alice and her token");
    let (_, html) = page(&b, s.url(&format!("/portal/apps/{id}"))).await;
    assert_eq!((text_of(&html, "users"), text_of(&html, "tokens")), ("0".into(), "1".into()), "the machine token, no user");

    // edit: a bad redirect URI is refused and changes nothing; a good edit saves
    let (_, html) = page(&b, s.url(&format!("/portal/apps/{id}"))).await;
    let csrf = hidden(&html, "csrf");
    let r = b
        .post(s.url(&format!("/portal/apps/{id}/edit")))
        .form(&[("csrf", csrf.as_str()), ("redirect_uris", "http://evil.example/cb"), ("scope", "read:data")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("https"));
    assert_eq!(tessera::registry::clients::get(&s.db, &id).await.unwrap().redirect_uris.len(), 2);
    let r = b
        .post(s.url(&format!("/portal/apps/{id}/edit")))
        .form(&[("csrf", csrf.as_str()), ("redirect_uris", "https://new.example.com/cb"), ("scope", "read:data"), ("scope", "write:data")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = tessera::registry::clients::get(&s.db, &id).await.unwrap();
    assert_eq!(c.redirect_uris, vec!["https://new.example.com/cb"]);
    assert_eq!(c.scopes, vec!["read:data", "write:data"]);
    assert!(c.machine_pending, "gaining write:data, the app waits for an admin again");
    let store = s.tdb.store().await;
    tessera::registry::clients::set_machine_pending(&s.db, store.as_ref(), &id, false, Some("admin")).await.unwrap();

    // rotate: a new secret once, the old one dead
    let r = b.post(s.url(&format!("/portal/apps/{id}/rotate-secret"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    let html = r.text().await.unwrap();
    let new_secret = text_of(&html, "client-secret");
    assert_ne!(new_secret, secret);
    assert_eq!(s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await.status(), 401);
    s.client_credentials(&id, &new_secret, None).await;
    // suspend / reactivate / delete
    let r = b.post(s.url(&format!("/portal/apps/{id}/suspend"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(text_of(&r.text().await.unwrap(), "status"), "suspended");
    assert_eq!(s.post_basic("/token", &id, &new_secret, &[("grant_type", "client_credentials")]).await.status(), 401);
    b.post(s.url(&format!("/portal/apps/{id}/activate"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    s.client_credentials(&id, &new_secret, None).await;
    let r = b.post(s.url(&format!("/portal/apps/{id}/delete"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(tessera::registry::clients::find(&s.db, &id).await.unwrap().is_none());
}

/// A public app of the same developer (for the user flow).
async fn id_public_twin(s: &TestServer, b: &reqwest::Client) -> String {
    let r = register(s, b, "Zapier Mobile", &[("client_type", "public"), ("machine", "0")]).await;
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    assert!(!html.contains("client-secret"), "public apps have no secret");
    text_of(&html, "client-id")
}

async fn roles_and_csrf_are_enforced(be: Backend) {
    let s = start(be).await;
    user(&s.db, "dev1", "developer").await;
    user(&s.db, "dev2", "developer").await;
    user(&s.db, "alice", "user").await;
    let d1 = signed_in(&s, "dev1").await;
    let d2 = signed_in(&s, "dev2").await;
    let alice = signed_in(&s, "alice").await;

    let html = register(&s, &d1, "Private App", &[]).await.text().await.unwrap();
    let id = text_of(&html, "client-id");
    // another developer neither lists nor opens nor changes it
    let (_, list) = page(&d2, s.url("/portal")).await;
    assert!(!list.contains("Private App"));
    assert_eq!(page(&d2, s.url(&format!("/portal/apps/{id}"))).await.0, 404);
    let (_, p2) = page(&d2, s.url("/portal")).await;
    let r = d2.post(s.url(&format!("/portal/apps/{id}/delete"))).form(&[("csrf", hidden(&p2, "csrf"))]).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(tessera::registry::clients::find(&s.db, &id).await.unwrap().is_some());
    // a plain user: 403 on the portal and the admin console; developers: 403 on admin
    assert_eq!(page(&alice, s.url("/portal")).await.0, 403);
    assert_eq!(page(&alice, s.url("/admin")).await.0, 403);
    assert_eq!(page(&d1, s.url("/admin")).await.0, 403);
    // signed out: to the login page
    let r = browser().get(s.url("/portal")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    // a form post without (or with a wrong) CSRF token is refused and writes nothing
    let before = count_rows(&s.db, "clients").await;
    let r = d1.post(s.url("/portal/apps")).form(&[("name", "X"), ("client_type", "public"), ("scope", "read:data")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = d1
        .post(s.url("/portal/apps"))
        .form(&[("csrf", "forged"), ("name", "X"), ("client_type", "public"), ("scope", "read:data")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(count_rows(&s.db, "clients").await, before);
    // developers cannot hand out the admin scope
    let r = register(&s, &d1, "Sneaky", &[("scope", "tessera:admin")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(count_rows(&s.db, "clients").await, before);
    // the portal sends the security headers
    let r = d1.get(s.url("/portal")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

async fn admin_console_and_json_api(be: Backend) {
    let s = start(be).await;
    user(&s.db, "root", "admin").await;
    user(&s.db, "dev", "developer").await;
    let admin = signed_in(&s, "root").await;
    let (m, m_secret) = crate::support::machine_client(&s.db, "read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let token = s.client_credentials(&m, &m_secret, None).await;

    let (status, html) = page(&admin, s.url("/admin")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&m) && html.contains("Signing keys") && html.contains("client.created"));
    // suspend from the console: at once on token and introspection
    let csrf = hidden(&html, "csrf");
    let r = admin.post(s.url(&format!("/admin/clients/{m}/suspend"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("is now suspended"));
    assert_eq!(s.post_basic("/token", &m, &m_secret, &[("grant_type", "client_credentials")]).await.status(), 401);
    assert_eq!(s.introspect(&rs, &rs_secret, &token).await["active"], false);
    admin.post(s.url(&format!("/admin/clients/{m}/activate"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(s.introspect(&rs, &rs_secret, &token).await["active"], true);
    // scope catalogue and key rotation from the console
    let r = admin.post(s.url("/admin/scopes")).form(&[("csrf", csrf.as_str()), ("name", "read:reports"), ("description", "Read reports")]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Scope read:reports added."));
    let r = admin.post(s.url("/admin/keys/rotate")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Wait"), "a too-young next key is not activated from the console");

    // JSON API: a client_credentials token with tessera:admin
    let (ops, ops_secret) = crate::support::machine_client(&s.db, "tessera:admin").await;
    let admin_token = s.client_credentials(&ops, &ops_secret, Some("tessera:admin")).await;
    let api = |path: &str| s.url(&format!("/admin/api{path}"));
    let r = s.http.get(api("/clients")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let r = s.http.get(api("/clients")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 403, "a token without tessera:admin");
    let r = s.http.get(api("/clients")).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    assert!(list.as_array().unwrap().iter().any(|c| c["client_id"] == m.as_str()));
    let r = s
        .http
        .post(api("/clients"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"name": "Automated", "grant_types": ["client_credentials"], "scopes": ["read:data"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let new_id = created["client_id"].as_str().unwrap().to_string();
    s.client_credentials(&new_id, created["client_secret"].as_str().unwrap(), None).await;
    let r = s
        .http
        .post(api("/clients"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"name": "Bad", "grant_types": ["implicit"], "scopes": ["read:data"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s.http.post(api(&format!("/clients/{new_id}/suspend"))).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "suspended");
    let r = s.http.post(api("/keys/rotate")).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.status(), 409, "too soon without force");
    let r = s.http.post(api("/keys/rotate")).bearer_auth(&admin_token).json(&serde_json::json!({"force": true})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let keys: serde_json::Value = s.http.get(api("/keys")).bearer_auth(&admin_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 3);
    let audit: serde_json::Value =
        s.http.get(api("/audit?event=client.suspended")).bearer_auth(&admin_token).send().await.unwrap().json().await.unwrap();
    assert!(audit.as_array().unwrap().iter().all(|e| e["event"] == "client.suspended"));
    assert!(audit.as_array().unwrap().len() >= 2);
    let r = s.http.delete(api(&format!("/clients/{new_id}"))).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // initial access tokens for dynamic registration (RFC 7591), from the API and the console
    let r = s.http.post(api("/registration-tokens")).bearer_auth(&admin_token).json(&serde_json::json!({"ttl_secs": 600, "uses": 2})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let issued: serde_json::Value = r.json().await.unwrap();
    assert_eq!(issued["uses"], 2);
    let body = serde_json::json!({"grant_types": ["client_credentials"], "scope": "read:data"});
    let r = s.http.post(s.url("/register")).bearer_auth(issued["token"].as_str().unwrap()).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = s.http.post(api("/registration-tokens")).bearer_auth(&admin_token).json(&serde_json::json!({"uses": 0})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let (_, console) = page(&admin, s.url("/admin")).await;
    let r = admin.post(s.url("/admin/registration-tokens")).form(&[("csrf", hidden(&console, "csrf")), ("hours", "2".into()), ("uses", "1".into())]).send().await.unwrap();
    let html = r.text().await.unwrap();
    let token = html.split("Registration token").nth(1).and_then(|t| t.split("tri_").nth(1)).map(|t| format!("tri_{}", &t[..43])).expect("the token is shown");
    let r = s.http.post(s.url("/register")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
}

/// An admin suspends a developer's app: the developer sees it and why, and
/// cannot reactivate it (by the page or by a forged post); an admin can.
async fn an_admins_suspension_holds_against_the_developer(be: Backend) {
    let s = start(be).await;
    user(&s.db, "root", "admin").await;
    user(&s.db, "dev", "developer").await;
    let (admin, dev) = (signed_in(&s, "root").await, signed_in(&s, "dev").await);
    let html = register(&s, &dev, "Scraper", &[]).await.text().await.unwrap();
    let id = text_of(&html, "client-id");

    let (_, console) = page(&admin, s.url("/admin")).await;
    let form = [("csrf", hidden(&console, "csrf")), ("reason", "scrapes user data".to_string())];
    let r = admin.post(s.url(&format!("/admin/clients/{id}/suspend"))).form(&form).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("(scrapes user data)"));

    let (_, html) = page(&dev, s.url(&format!("/portal/apps/{id}"))).await;
    assert_eq!(text_of(&html, "status"), "suspended");
    assert!(text_of(&html, "admin-hold").contains("scrapes user data"));
    assert!(!html.contains(&format!("/portal/apps/{id}/activate")), "no Reactivate button");
    let r = dev.post(s.url(&format!("/portal/apps/{id}/activate"))).form(&[("csrf", hidden(&html, "csrf"))]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("only an admin can reactivate it"));
    // the owner's own suspend and reactivate leave the hold in place
    dev.post(s.url(&format!("/portal/apps/{id}/suspend"))).form(&[("csrf", hidden(&html, "csrf"))]).send().await.unwrap();
    let (_, html) = page(&dev, s.url(&format!("/portal/apps/{id}"))).await;
    assert!(text_of(&html, "admin-hold").contains("scrapes user data"));

    let r = admin.post(s.url(&format!("/admin/clients/{id}/activate"))).form(&[("csrf", hidden(&console, "csrf"))]).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("is now active"));
    let (_, html) = page(&dev, s.url(&format!("/portal/apps/{id}"))).await;
    assert_eq!(text_of(&html, "status"), "active");
    assert!(!html.contains("admin-hold"));
}

/// A scope the admin opens to machines needs no approval; one that is not
/// still does, also when an approved app gains it later; an admin's own
/// registration needs none.
async fn machine_scopes_open_to_all_need_no_approval(be: Backend) {
    use tessera::oauth::registration::{add_scope, register_self_service, update_self_service};
    let s = start(be).await;
    let dev = user(&s.db, "dev", "developer").await;
    add_scope(&s.db, "read:status", "Read the service status", true).await.unwrap();
    let app = |scopes: &[&str]| tessera::registry::clients::NewClient {
        name: "Bot".into(),
        client_type: "confidential".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: scopes.iter().map(|x| x.to_string()).collect(),
        owner_user_id: Some(dev.clone()),
        ..Default::default()
    };
    let open = register_self_service(&s.db, app(&["read:status"]), Some(&dev), false).await.unwrap();
    assert!(!open.client.machine_pending);
    s.client_credentials(&open.client.client_id, open.client_secret.as_deref().unwrap(), None).await;
    let closed = register_self_service(&s.db, app(&["read:status", "read:data"]), Some(&dev), false).await.unwrap();
    assert!(closed.client.machine_pending, "read:data is not open to machines");
    let by_admin = register_self_service(&s.db, app(&["read:data"]), Some("root"), true).await.unwrap();
    assert!(!by_admin.client.machine_pending, "an admin's registration needs no approval");
    // the open app gains a closed scope through the portal: it waits again
    let store = s.tdb.store().await;
    let scopes = vec!["read:status".to_string(), "read:data".to_string()];
    // a machine-only app from the portal: no redirect URI needed, client credentials only
    let b = signed_in(&s, "dev").await;
    let html = register(&s, &b, "Nightly export", &[("machine", "only"), ("redirect_uris", "")]).await.text().await.unwrap();
    let cron = tessera::registry::clients::get(&s.db, &text_of(&html, "client-id")).await.unwrap();
    assert_eq!(cron.grant_types, [tessera::registry::grant_types::GrantType::ClientCredentials]);
    assert!(cron.redirect_uris.is_empty() && cron.machine_pending);
    // a device app (RFC 8628) from the portal: public, no redirect URI, no approval to wait for
    let html = register(&s, &b, "Living-room TV", &[("machine", "device"), ("client_type", "public"), ("redirect_uris", "")]).await.text().await.unwrap();
    let tv = tessera::registry::clients::get(&s.db, &text_of(&html, "client-id")).await.unwrap();
    use tessera::registry::grant_types::GrantType;
    assert_eq!(tv.grant_types, [GrantType::DeviceCode, GrantType::RefreshToken]);
    assert!(tv.redirect_uris.is_empty() && !tv.machine_pending);
    let r = s.http.post(s.url("/device_authorization")).form(&[("client_id", tv.client_id.as_str()), ("scope", "read:data")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let changed = update_self_service(&s.db, store.as_ref(), &open.client, tessera::registry::clients::Change { scopes, ..Default::default() }, Some(&dev), false).await.unwrap();
    assert!(changed.machine_pending);
    let r = s.post_basic("/token", &open.client.client_id, open.client_secret.as_deref().unwrap(), &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 400);
}
