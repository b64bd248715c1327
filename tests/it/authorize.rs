//! Users authorize apps: the browser flow over HTTP (cookie jar, forms),
//! tokens, userinfo, refresh rotation, reuse detection, per-user revocation.
use base64::Engine;

use crate::both_backends;
use crate::support::{
    app, browser, hidden, location_params, start, user, Backend, PASSWORD, REDIRECT, VERIFIER,
};

both_backends!(authorize_refusals, login_and_consent_protections);

// What a family's keys in Redis take part in: on the cluster too.
crate::every_store!(
    whole_flow_login_consent_code_tokens_userinfo_refresh_reuse,
    revoking_one_user_at_one_app_leaves_everyone_else_working,
    code_refusals_and_replay,
    parallel_refreshes_have_exactly_one_winner,
    a_family_dies_with_the_consent_it_came_from,
    deleting_a_client_revokes_what_it_was_issued,
    refresh_follows_the_clients_registered_scopes,
    a_widened_consent_reaches_the_next_family_at_once,
);

/// A consent widened after the grant was read (and, on Redis, kept in this
/// instance's memory) reaches the tokens of the next family at once: the
/// consent moves the grants epoch before its code is issued.
async fn a_widened_consent_reaches_the_next_family_at_once(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data write:data").await;
    let alice = browser();
    let r = s.login_and_consent(&alice, &s.authorize_url(&client, "read:data", &[]), "alice").await;
    let tok: serde_json::Value = s.exchange(&client, &location_params(&r)["code"]).await.json().await.unwrap();
    let r = s.refresh(&client, tok["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["scope"], "read:data");
    // asked for more: consent again, a new family with both scopes
    let r = alice.get(s.authorize_url(&client, "read:data write:data", &[])).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("wants access to your account"), "consent page: {html}");
    let r = alice
        .post(s.url("/authorize/consent"))
        .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("decision", "allow".into())])
        .send()
        .await
        .unwrap();
    let tok: serde_json::Value = s.exchange(&client, &location_params(&r)["code"]).await.json().await.unwrap();
    assert_eq!(tok["scope"], "read:data write:data");
    let r = s.refresh(&client, tok["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["scope"], "read:data write:data", "the refresh keeps the widened grant");
}

/// When an app's registered scopes shrink, its users' consents shrink with
/// them, and refreshes of existing families stop carrying what was removed.
async fn refresh_follows_the_clients_registered_scopes(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data write:data").await;
    let tok = s.tokens_for(&client, "alice", "read:data write:data").await;
    assert_eq!(tok["scope"], "read:data write:data");
    let store = s.tdb.store().await;
    let scopes = vec!["openid".to_string(), "read:data".to_string()];
    tessera::oauth::registration::update(&s.db, store.as_ref(), &client, tessera::registry::clients::Change { redirect_uris: vec![REDIRECT.into()], scopes, ..Default::default() }, Some("admin")).await.unwrap();
    let consent = tessera::registry::consents::find(&s.db, &alice, &client).await.unwrap().unwrap();
    assert_eq!(consent.scopes, ["read:data"], "the consent shrank with the client");
    let r = s.refresh(&client, tok["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "read:data", "write:data is no longer issued");
}

/// Deleting a client revokes its users' refresh families and denylists
/// their live access tokens, in the store (not only through the client's
/// absence).
async fn deleting_a_client_revokes_what_it_was_issued(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let tok = s.tokens_for(&client, "alice", "read:data").await;
    let (access, refresh) = (tok["access_token"].as_str().unwrap(), tok["refresh_token"].as_str().unwrap());
    let jti = decode_payload(access)["jti"].as_str().unwrap().to_string();
    let store = s.tdb.store().await;
    let hash = tessera::store::refresh_handle(refresh);
    assert!(matches!(store.get_refresh(&hash, tessera::db::now()).await.unwrap(), tessera::store::RefreshState::Active(_)));
    tessera::registry::clients::delete(&s.db, store.as_ref(), &client, Some("test")).await.unwrap();
    assert_eq!(store.get_refresh(&hash, tessera::db::now()).await.unwrap(), tessera::store::RefreshState::Invalid);
    assert!(store.is_denied(&jti).await.unwrap(), "its live access token is denylisted");
}

/// A refresh family is bound to the consent it came from. If a revocation
/// misses a family (an index that expired, a code exchange racing the
/// revocation), the family still dies with its consent: consenting again
/// later makes a new consent and revives nothing.
async fn a_family_dies_with_the_consent_it_came_from(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let old = s.tokens_for(&client, "alice", "read:data").await["refresh_token"].as_str().unwrap().to_string();
    // the consent goes without its tokens (what a missed revocation leaves behind)
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::grants::Entity::delete_many().filter(entity::grants::Column::ClientId.eq(client.as_str())).exec(&s.db).await.unwrap();
    // the user consents again, on a new phone
    let fresh = s.tokens_for(&client, "alice", "read:data").await["refresh_token"].as_str().unwrap().to_string();
    let r = s.refresh(&client, &old).await;
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()), "the old family is not revived");
    let r = s.refresh(&client, &fresh).await;
    assert_eq!(r.status(), 200, "the new consent's family works");
}

fn decode_payload(jwt: &str) -> serde_json::Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

async fn error_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    (status, v["error"].as_str().unwrap_or_default().to_string())
}

async fn whole_flow_login_consent_code_tokens_userinfo_refresh_reuse(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid profile email read:data write:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;

    let br = browser();
    let r = s.login_and_consent(&br, &s.authorize_url(&client, "openid email read:data", &[]), "alice").await;
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = location_params(&r);
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["iss"], s.base, "RFC 9207 iss");
    let code = &q["code"];

    let r = s.exchange(&client, code).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tok: serde_json::Value = r.json().await.unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], "openid email read:data");
    let access = tok["access_token"].as_str().unwrap().to_string();
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    // opaque: the family's id, a dot, and 256 random bits; the access token's id shares the family
    let (family, secret) = refresh.split_once('.').expect("family.secret");
    assert_eq!(secret.len(), 43, "256-bit opaque refresh token");
    assert!(decode_payload(&access)["jti"].as_str().unwrap().starts_with(&format!("{family}.")));
    // the store holds the redeemed code (to recognise a replay) and one refresh token
    assert_eq!(s.tdb.stored(crate::support::Stored::Codes).await, 1);
    assert_eq!(s.tdb.stored(crate::support::Stored::RefreshTokens).await, 1);
    let claims = crate::support::verify_offline(&s, &access, "https://api.example.com").await.unwrap();
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["client_id"], client.as_str());

    // ID token: aud = client, nonce, auth_time, at_hash
    let id = tok["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let idc = decode_payload(id);
    assert_eq!(idc["aud"], client.as_str());
    assert_eq!(idc["sub"], alice.as_str());
    assert_eq!(idc["nonce"], "n0nce");
    assert_eq!(idc["iss"], s.base.as_str());
    assert!(idc["auth_time"].as_i64().is_some());
    assert_eq!(idc["at_hash"], tessera::oauth::issuer::at_hash(&access));

    // userinfo: claims gated by scope (email yes, profile no)
    let r = s.http.get(s.url("/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ui: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ui["sub"], alice.as_str());
    assert_eq!(ui["email"], "alice@example.com");
    assert!(ui.get("preferred_username").is_none());
    let r = s.http.post(s.url("/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // token in the query string is refused
    let r = s.http.get(s.url(&format!("/userinfo?access_token={access}"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = s.http.get(s.url("/userinfo")).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // the grant records its use
    let g = tessera::registry::consents::find(&s.db, &alice, &client).await.unwrap().unwrap();
    assert!(g.last_used_at.is_some());
    assert_eq!(g.scopes, vec!["openid", "email", "read:data"]);

    // refresh: rotated, narrowed, never widened
    let r = s.refresh(&client, &refresh).await;
    assert_eq!(r.status(), 200);
    let t2: serde_json::Value = r.json().await.unwrap();
    let refresh2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh, "rotated");
    let access2 = t2["access_token"].as_str().unwrap().to_string();
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh2), ("client_id", &client), ("scope", "read:data write:data")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (400, "invalid_scope".into()));
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh2), ("client_id", &client), ("scope", "read:data")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a refused widening changed nothing; narrowing works");
    let t3: serde_json::Value = r.json().await.unwrap();
    assert_eq!(t3["scope"], "read:data");
    let refresh3 = t3["refresh_token"].as_str().unwrap().to_string();
    let access3 = t3["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.introspect(&rs, &rs_secret, &access3).await["active"], true);
    let v = s.introspect(&rs, &rs_secret, &refresh3).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "refresh_token");

    // reuse of an old refresh token: the whole family dies
    let r = s.refresh(&client, &refresh).await;
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()));
    let r = s.refresh(&client, &refresh3).await;
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()), "the newest token of the family is revoked too");
    for a in [&access, &access2, &access3] {
        assert_eq!(s.introspect(&rs, &rs_secret, a).await["active"], false, "access tokens of the family are denylisted");
    }
    let r = s.http.get(s.url("/userinfo")).bearer_auth(&access3).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let reuse = crate::support::count_where(&s.db, "audit_events", &format!("event = 'refresh.reuse_detected' AND client_id = '{client}'")).await;
    assert_eq!(reuse, 1, "the reuse is audited once");

    // consent is remembered: a later request for a subset skips the page
    let r = br.get(s.authorize_url(&client, "openid read:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(location_params(&r).contains_key("code"));
    // … but not a wider one
    let r = br.get(s.authorize_url(&client, "openid read:data write:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("write:data"));
    // prompt=consent always asks; prompt=none answers without a page
    let r = br.get(s.authorize_url(&client, "read:data", &[("prompt", "consent")])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = br.get(s.authorize_url(&client, "read:data", &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(location_params(&r).contains_key("code"));
    let r = br.get(s.authorize_url(&client, "write:data", &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(location_params(&r)["error"], "consent_required");
    let r = browser().get(s.authorize_url(&client, "read:data", &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(location_params(&r)["error"], "login_required");
    // prompt=login shows the login page even when signed in
    let r = br.get(s.authorize_url(&client, "read:data", &[("prompt", "login")])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Sign in"));
}

async fn revoking_one_user_at_one_app_leaves_everyone_else_working(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let bob = user(&s.db, "bob", "user").await;
    let (app1, _) = app(&s.db, "public", "openid read:data").await;
    let (app2, _) = app(&s.db, "public", "openid read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;

    let a1 = s.tokens_for(&app1, "alice", "read:data").await;
    let a1b = s.tokens_for(&app1, "alice", "read:data").await; // a second device
    let a2 = s.tokens_for(&app2, "alice", "read:data").await;
    let b1 = s.tokens_for(&app1, "bob", "read:data").await;

    // the JSON API the pages use lists alice's two apps
    let br = browser();
    let r = s.login_and_consent(&br, &s.authorize_url(&app1, "read:data", &[]), "alice").await;
    assert_eq!(r.status(), 303, "already consented: straight to the code");
    let apps: serde_json::Value = br.get(s.url("/account/api/grants")).send().await.unwrap().json().await.unwrap();
    let listed: Vec<&str> = apps.as_array().unwrap().iter().map(|a| a["client_id"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&app1.as_str()) && listed.contains(&app2.as_str()));
    assert!(apps[0]["last_used_at"].as_i64().is_some());
    assert_eq!(apps[0]["client_name"], "Acme Sync");

    // without the CSRF header the API refuses and changes nothing
    let r = br.delete(s.url(&format!("/account/api/grants/{app1}"))).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(tessera::registry::consents::find(&s.db, &alice, &app1).await.unwrap().is_some());

    // one click (the CLI path here; the page and API call the same function)
    tessera::registry::consents::revoke(&s.db, &*s.tdb.store().await, &alice, &app1, Some("test"), None).await.unwrap();

    for t in [&a1, &a1b] {
        let r = s.refresh(&app1, t["refresh_token"].as_str().unwrap()).await;
        assert_eq!(error_of(r).await, (400, "invalid_grant".into()));
        assert_eq!(s.introspect(&rs, &rs_secret, t["access_token"].as_str().unwrap()).await["active"], false);
    }
    assert!(tessera::registry::consents::find(&s.db, &alice, &app1).await.unwrap().is_none());
    // what /authorize reads in one query: the user, and their consent to that app only
    let with = |u: String, c: String| {
        let db = s.db.clone();
        async move { tessera::registry::users::with_consent(&db, &u, &c).await.unwrap() }
    };
    let (u, g) = with(alice.clone(), app1.clone()).await.expect("alice");
    assert_eq!((u.user_id.as_str(), g.is_none()), (alice.as_str(), true), "alice's consent to app1 is gone");
    let (u, g) = with(alice.clone(), app2.clone()).await.expect("alice");
    let g = g.expect("alice still consents to app2");
    assert_eq!((u.username.as_str(), g.user_id.as_str(), g.client_id.as_str()), ("alice", alice.as_str(), app2.as_str()));
    let (u, g) = with(bob.clone(), app1.clone()).await.expect("bob");
    let g = g.expect("bob still consents to app1");
    assert_eq!((u.username.as_str(), g.user_id.as_str(), g.client_id.as_str()), ("bob", bob.as_str(), app1.as_str()));
    assert!(with("nobody".into(), app1.clone()).await.is_none());
    // bob at app1 and alice at app2 keep working
    for (client, t) in [(&app1, &b1), (&app2, &a2)] {
        assert_eq!(s.introspect(&rs, &rs_secret, t["access_token"].as_str().unwrap()).await["active"], true);
        let r = s.refresh(client, t["refresh_token"].as_str().unwrap()).await;
        assert_eq!(r.status(), 200);
    }
    // the revoked app must ask again
    let r = br.get(s.authorize_url(&app1, "read:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("wants access"));
}

async fn authorize_refusals(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let br = browser();
    let page = |r: &reqwest::Response| r.status() == 400 && r.headers().get("location").is_none();

    // untrusted client or redirect_uri: a page, never a redirect
    for url in [
        s.authorize_url("unknown", "read:data", &[]),
        s.authorize_url(&client, "read:data", &[]).replace("127.0.0.1%3A9%2Fcb", "evil.example%2Fcb"),
        s.authorize_url(&client, "read:data", &[]).replace("%2Fcb", "%2Fcb%2F..%2Fx"),
        s.authorize_url(&client, "read:data", &[]).replace("%2Fcb", "%2Fcbx"),
        s.authorize_url(&client, "read:data", &[]).replace("http%3A%2F%2F127.0.0.1", "http%3A%2F%2Fuser%40127.0.0.1"),
        s.authorize_url(&client, "read:data", &[]) + "&client_id=again",
    ] {
        let r = br.get(&url).send().await.unwrap();
        assert!(page(&r), "{url} → {}", r.status());
        let html = r.text().await.unwrap();
        assert!(html.contains("not been redirected"));
    }
    // trusted redirect: errors go back with state and iss
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "code id_token")], "unsupported_response_type"),
        (&[("scope", "read:billing")], "invalid_scope"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("prompt", "none login")], "invalid_request"),
    ];
    for (over, code) in cases {
        let mut u = url::Url::parse(&s.authorize_url(&client, "openid read:data", &[])).unwrap();
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
            .chain(over.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        let r = br.get(u.as_str()).send().await.unwrap();
        assert_eq!(r.status(), 302, "{over:?}");
        let q = location_params(&r);
        assert_eq!(q["error"], *code, "{over:?}");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["iss"], s.base);
        assert!(r.headers()["location"].to_str().unwrap().starts_with(REDIRECT));
    }
    assert_eq!(s.tdb.stored(crate::support::Stored::Codes).await, 0, "no code was issued");
}

async fn code_refusals_and_replay(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let (other, other_secret) = app(&s.db, "confidential", "openid read:data").await;
    let other_secret = other_secret.unwrap();
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let br = browser();
    let r = s.login_and_consent(&br, &s.authorize_url(&client, "read:data", &[]), "alice").await;
    let code = location_params(&r)["code"].clone();

    // wrong verifier: refused (and the code is burnt)
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "x".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()));
    assert_eq!(error_of(s.exchange(&client, &code).await).await, (400, "invalid_grant".into()));

    // a fresh code: injected into another client's exchange → refused
    let r = br.get(s.authorize_url(&client, "read:data", &[])).send().await.unwrap();
    let code = location_params(&r)["code"].clone();
    let r = s
        .post_basic(
            "/token",
            &other,
            &other_secret,
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", crate::support::VERIFIER)],
        )
        .await;
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()));

    // missing verifier, and a replay that revokes what the first exchange issued
    let r = br.get(s.authorize_url(&client, "read:data", &[])).send().await.unwrap();
    let code = location_params(&r)["code"].clone();
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("client_id", &client), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()));
    let r = br.get(s.authorize_url(&client, "read:data", &[])).send().await.unwrap();
    let code = location_params(&r)["code"].clone();
    let first: serde_json::Value = s.exchange(&client, &code).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(s.introspect(&rs, &rs_secret, access).await["active"], true);
    assert_eq!(error_of(s.exchange(&client, &code).await).await, (400, "invalid_grant".into()));
    assert_eq!(s.introspect(&rs, &rs_secret, access).await["active"], false, "replay revokes the first exchange's tokens");
    assert_eq!(error_of(s.refresh(&client, first["refresh_token"].as_str().unwrap()).await).await, (400, "invalid_grant".into()));

    // a public client cannot use a secret; a confidential one must
    let r = br.get(s.authorize_url(&other, "read:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 200, "consent for the other app");
    let code_other = {
        let html = r.text().await.unwrap();
        let r = br
            .post(s.url("/authorize/consent"))
            .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("decision", "allow".into())])
            .send()
            .await
            .unwrap();
        location_params(&r)["code"].clone()
    };
    let r = s.exchange(&other, &code_other).await; // no secret
    assert_eq!(error_of(r).await, (401, "invalid_client".into()));
}

async fn parallel_refreshes_have_exactly_one_winner(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    // an enterprise client: the race, not the rate limit, is under test
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::clients::Entity::update_many()
        .col_expr(entity::clients::Column::Tier, sea_orm::sea_query::Expr::value("enterprise"))
        .filter(entity::clients::Column::ClientId.eq(client.as_str()))
        .exec(&s.db)
        .await
        .unwrap();
    let tok = s.tokens_for(&client, "alice", "read:data").await;
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let s = std::sync::Arc::new(s);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (s, c, r) = (s.clone(), client.clone(), refresh.clone());
            tokio::spawn(async move { s.refresh(&c, &r).await.status().as_u16() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        if status == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one of 100 parallel refreshes succeeds");
}

async fn login_and_consent_protections(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let br = browser();
    let r = br.get(s.authorize_url(&client, "read:data", &[])).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let html = r.text().await.unwrap();
    let (csrf, authz) = (hidden(&html, "csrf"), hidden(&html, "authz"));

    // wrong password and unknown user: the same answer
    let mut bodies = vec![];
    for (u, p) in [("alice", "wrong password"), ("mallory", PASSWORD)] {
        let r = br
            .post(s.url("/login"))
            .form(&[("csrf", csrf.as_str()), ("authz", authz.as_str()), ("username", u), ("password", p)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let html = r.text().await.unwrap();
        assert!(html.contains("Invalid username or password."));
        assert!(html.contains("to continue to <strong>Acme Sync</strong>"), "the app is named again");
        bodies.push(html.replace(u, ""));
    }
    assert_eq!(bodies[0], bodies[1], "failures say nothing about which part was wrong");
    // login without the CSRF token (a cross-site post) is refused
    let r = br
        .post(s.url("/login"))
        .form(&[("authz", authz.as_str()), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // a real login shows consent; a consent post without CSRF is refused and issues no code
    let r = br
        .post(s.url("/login"))
        .form(&[("csrf", csrf.as_str()), ("authz", authz.as_str()), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert_ne!(hidden(&html, "csrf"), csrf, "the CSRF token changes at login");
    let r = br
        .post(s.url("/authorize/consent"))
        .form(&[("authz", hidden(&html, "authz")), ("decision", "allow".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = br
        .post(s.url("/authorize/consent"))
        .form(&[("csrf", hidden(&html, "csrf")), ("authz", csrf.clone()), ("decision", "allow".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a tampered request is re-validated");
    assert_eq!(s.tdb.stored(crate::support::Stored::Codes).await, 0);
    assert_eq!(crate::support::count_rows(&s.db, "grants").await, 0);
    // deny: access_denied back to the app, no grant
    let r = br
        .post(s.url("/authorize/consent"))
        .form(&[("csrf", hidden(&html, "csrf")), ("authz", hidden(&html, "authz")), ("decision", "deny".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location_params(&r)["error"], "access_denied");
    assert_eq!(crate::support::count_rows(&s.db, "grants").await, 0);
}

/// PKCE is required of every client (RFC 9700 §2.1.1); a legacy
/// confidential client registered as unable to send it may skip it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_is_required_unless_a_legacy_client_opts_out() {
    let s = start(Backend::Embedded).await;
    user(&s.db, "alice", "user").await;
    let confidential = |pkce_optional: bool| tessera::registry::clients::NewClient {
        name: "Legacy web app".into(),
        client_type: "confidential".into(),
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["read:data".into()],
        redirect_uris: vec![REDIRECT.into()],
        pkce_optional,
        ..Default::default()
    };
    let without_pkce = |id: &str| {
        let mut u = url::Url::parse(&s.authorize_url(id, "read:data", &[])).unwrap();
        let kept: Vec<(String, String)> = u.query_pairs().into_owned().filter(|(k, _)| !k.starts_with("code_challenge")).collect();
        u.query_pairs_mut().clear().extend_pairs(kept);
        u.to_string()
    };
    let strict = tessera::oauth::registration::register(&s.db, confidential(false), None).await.unwrap().client.client_id;
    let r = browser().get(without_pkce(&strict)).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location_params(&r)["error"], "invalid_request");

    let legacy = tessera::oauth::registration::register(&s.db, confidential(true), None).await.unwrap();
    let (id, secret) = (legacy.client.client_id, legacy.client_secret.unwrap());
    let r = s.login_and_consent(&browser(), &without_pkce(&id), "alice").await;
    assert_eq!(r.status(), 303);
    let code = location_params(&r)["code"].clone();
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!(r.status(), 200, "the legacy client's code works without a verifier");

    // a public client cannot opt out
    let public = tessera::registry::clients::NewClient { client_type: "public".into(), ..confidential(true) };
    let e = tessera::oauth::registration::register(&s.db, public, None).await.unwrap_err();
    assert!(e.to_string().contains("cannot skip PKCE"), "{e}");
}

/// RFC 8252: a native app (a public client) registers a private-use scheme
/// named after its domain; the code flow with PKCE ends in a redirect to it
/// carrying code, state and iss, and the code exchanges. A confidential
/// client cannot register one, and dangerous schemes are refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_app_gets_its_code_at_its_own_scheme() {
    let s = start(Backend::Embedded).await;
    user(&s.db, "alice", "user").await;
    const NATIVE: &str = "com.example.app:/oauth2redirect";
    let native = |client_type: &str, redirect: &str| tessera::registry::clients::NewClient {
        name: "Phone app".into(),
        client_type: client_type.into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "read:data".into()],
        redirect_uris: vec![redirect.into()],
        ..Default::default()
    };
    let app = tessera::oauth::registration::register(&s.db, native("public", NATIVE), None).await.unwrap().client.client_id;
    let mut u = url::Url::parse(&s.authorize_url(&app, "openid read:data", &[])).unwrap();
    let pairs: Vec<(String, String)> =
        u.query_pairs().into_owned().map(|(k, v)| if k == "redirect_uri" { (k, NATIVE.to_string()) } else { (k, v) }).collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let r = s.login_and_consent(&browser(), u.as_str(), "alice").await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{NATIVE}?code=")), "{location}");
    let q = location_params(&r);
    assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("st4te", s.base.as_str()));
    let form = [("grant_type", "authorization_code"), ("code", q["code"].as_str()), ("client_id", app.as_str()), ("redirect_uri", NATIVE), ("code_verifier", VERIFIER)];
    let r = s.http.post(s.url("/token")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let e = tessera::oauth::registration::register(&s.db, native("confidential", NATIVE), None).await.unwrap_err().to_string();
    assert!(e.contains("native apps"), "{e}");
    for dangerous in ["javascript:alert(document.cookie)", "data:text/html,<script>x</script>", "file:///etc/passwd"] {
        let e = tessera::oauth::registration::register(&s.db, native("public", dangerous), None).await.unwrap_err().to_string();
        assert!(e.contains("never a redirect URI"), "{dangerous}: {e}");
    }
}
