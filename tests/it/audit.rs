//! The audit trail: every security-relevant event writes a row (and a log
//! line), and no row or log line ever holds a secret, password or token.
use std::collections::HashSet;

use tessera::app::Tessera;

use crate::both_backends;
use crate::support::{
    app, browser, captured_logs, hidden, limited_client, location_params, machine_client, start, user, Backend, PASSWORD,
};

both_backends!(every_event_is_audited_and_nothing_secret_is_written);

async fn every_event_is_audited_and_nothing_secret_is_written(b: Backend) {
    let s = start(b).await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_string()];
    let store = s.tdb.store().await;

    // clients: created, suspended, activated, secret rotated, deleted
    let (m, m_secret) = machine_client(&s.db, "read:data").await;
    secrets.push(m_secret.clone());
    secrets.push(s.client_credentials(&m, &m_secret, None).await);
    tessera::registry::clients::set_status(&s.db, store.as_ref(), &m, tessera::registry::clients::StatusChange::Suspend, Some("admin")).await.unwrap();
    tessera::registry::clients::set_status(&s.db, store.as_ref(), &m, tessera::registry::clients::StatusChange::Activate, Some("admin")).await.unwrap();
    let rotated = tessera::registry::clients::rotate_secret(&s.db, store.as_ref(), &m, 0, Some("admin")).await.unwrap();
    tessera::oauth::registration::update(&s.db, store.as_ref(), &m, tessera::registry::clients::Change { scopes: vec!["read:data".into(), "write:data".into()], ..Default::default() }, Some("admin")).await.unwrap();
    secrets.push(rotated.client_secret.unwrap());

    // users authorize an app: grant given; refresh reuse; code replay; grant revoked
    let alice = user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let br = browser();
    let r = s.login_and_consent(&br, &s.authorize_url(&client, "read:data", &[]), "alice").await;
    let code = location_params(&r)["code"].clone();
    secrets.push(code.clone());
    let tok: serde_json::Value = s.exchange(&client, &code).await.json().await.unwrap();
    let (a1, r1) = (tok["access_token"].as_str().unwrap().to_string(), tok["refresh_token"].as_str().unwrap().to_string());
    let t2: serde_json::Value = s.refresh(&client, &r1).await.json().await.unwrap();
    secrets.extend([a1, r1.clone(), t2["access_token"].as_str().unwrap().into(), t2["refresh_token"].as_str().unwrap().into()]);
    assert_eq!(s.refresh(&client, &r1).await.status(), 400);
    let r = br.get(s.authorize_url(&client, "read:data", &[])).send().await.unwrap();
    let code2 = location_params(&r)["code"].clone();
    secrets.push(code2.clone());
    let t3: serde_json::Value = s.exchange(&client, &code2).await.json().await.unwrap();
    secrets.push(t3["access_token"].as_str().unwrap().into());
    assert_eq!(s.exchange(&client, &code2).await.status(), 400);
    tessera::registry::consents::revoke(&s.db, store.as_ref(), &alice, &client, Some(&alice), Some("127.0.0.1")).await.unwrap();

    // login failed ×5 → locked
    user(&s.db, "bob", "user").await;
    let br2 = browser();
    let html2 = br2.get(s.authorize_url(&client, "read:data", &[])).send().await.unwrap().text().await.unwrap();
    for _ in 0..5 {
        br2.post(s.url("/login"))
            .form(&[("csrf", hidden(&html2, "csrf")), ("authz", hidden(&html2, "authz")), ("username", "bob".into()), ("password", "Hunter2-wrong".into())])
            .send()
            .await
            .unwrap();
    }
    secrets.push("Hunter2-wrong".into());

    // rate limit hit
    let (lim, lim_secret) = limited_client(&s.db, "read:data", Some(2)).await;
    secrets.push(lim_secret.clone());
    s.client_credentials(&lim, &lim_secret, None).await;
    assert_eq!(s.post_basic("/token", &lim, &lim_secret, &[("grant_type", "client_credentials")]).await.status(), 429);

    // keys rotated and revoked
    let admin = Tessera::open(s.tdb.config(s.port)).await.unwrap();
    let r = admin.keys.rotate(true).await.unwrap();
    admin.keys.revoke(&r.retired.unwrap()).await.unwrap();
    tessera::registry::clients::delete(&s.db, store.as_ref(), &m, Some("admin")).await.unwrap();

    let rows = tessera::registry::audit::list(&s.db, &tessera::registry::audit::Filter { limit: 1000, ..Default::default() }).await.unwrap();
    let events: HashSet<&str> = rows.iter().map(|r| r.event.as_str()).collect();
    for e in [
        "client.created", "client.changed", "client.suspended", "client.activated", "client.secret_rotated", "client.deleted", "user.created",
        "grant.given", "grant.revoked", "refresh.reuse_detected", "code.replayed", "login.failed", "login.locked",
        "rate_limit.hit", "key.rotated", "key.revoked",
    ] {
        assert!(events.contains(e), "no {e} row; have {events:?}");
    }
    // who/what/where are recorded
    let revoked = rows.iter().find(|r| r.event == "grant.revoked").unwrap();
    assert_eq!(revoked.user_id.as_deref(), Some(alice.as_str()));
    assert_eq!(revoked.client_id.as_deref(), Some(client.as_str()));
    assert_eq!(revoked.ip.as_deref(), Some("127.0.0.1"));
    let locked = rows.iter().find(|r| r.event == "login.locked").unwrap();
    assert!(locked.user_id.is_some() && locked.ip.is_some());
    // filters
    let only_client = tessera::registry::audit::list(&s.db, &tessera::registry::audit::Filter { client_id: Some(client.clone()), limit: 1000, ..Default::default() })
        .await
        .unwrap();
    assert!(!only_client.is_empty() && only_client.iter().all(|r| r.client_id.as_deref() == Some(client.as_str())));

    // nothing secret in any row or any log line
    let rows_text = serde_json::to_string(&rows).unwrap();
    let logs = captured_logs().join("\n");
    assert!(logs.contains("grant.revoked"), "audit events are logged too");
    for secret in &secrets {
        assert!(secret.len() >= 8);
        assert!(!rows_text.contains(secret.as_str()), "an audit row holds a secret");
        assert!(!logs.contains(secret.as_str()), "a log line holds a secret");
    }
}
