//! client_credentials end to end: issue, verify offline, refuse bad input.
use crate::both_backends;
use crate::support::{machine_client, start, verify_offline, Backend, Stored};

both_backends!(token_verifies_offline_as_a_resource_server_would, every_refusal_is_an_rfc_error_and_issues_nothing);

async fn token_verifies_offline_as_a_resource_server_would(b: Backend) {
    let s = start(b).await;
    let (id, secret) = machine_client(&s.db, "read:data write:data").await;

    // client_secret_basic
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "read:data")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read:data");
    assert_eq!(body["expires_in"], 900);
    assert!(body.get("refresh_token").is_none(), "client_credentials gets no refresh token");
    let token = body["access_token"].as_str().unwrap();
    let claims = verify_offline(&s, token, "https://api.example.com").await.expect("verifies offline");
    for c in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
        assert!(claims.get(c).is_some(), "claim {c} missing");
    }
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "read:data");
    // a wrong audience does not verify
    assert!(verify_offline(&s, token, "https://other.example.com").await.is_err());

    // client_secret_post, no scope: all of the client's scopes
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read:data write:data");

    // resource selects an allowed audience
    let r = s
        .post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("resource", "https://billing.example.com")])
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = verify_offline(&s, body["access_token"].as_str().unwrap(), "https://billing.example.com").await.unwrap();
    assert_eq!(claims["aud"], "https://billing.example.com");
}

async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> reqwest::header::HeaderMap {
    assert_eq!(r.status().as_u16(), status);
    let headers = r.headers().clone();
    let v: serde_json::Value = r.json().await.expect("error body is JSON");
    assert_eq!(v["error"], code, "{v}");
    assert!(v["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(v.get("access_token").is_none());
    headers
}

async fn every_refusal_is_an_rfc_error_and_issues_nothing(b: Backend) {
    let s = start(b).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let cc = [("grant_type", "client_credentials")];

    // wrong secret over Basic: 401 with WWW-Authenticate
    let h = expect_error(s.post_basic("/token", &id, "wrong", &cc).await, 401, "invalid_client").await;
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    // unknown client
    expect_error(s.post_basic("/token", "nobody", &secret, &cc).await, 401, "invalid_client").await;
    // wrong secret in the body: 401, no Basic challenge
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", "nope")])
        .send()
        .await
        .unwrap();
    let h = expect_error(r, 401, "invalid_client").await;
    assert!(h.get("www-authenticate").is_none());
    // no client authentication at all
    let r = s.http.post(s.url("/token")).form(&cc).send().await.unwrap();
    expect_error(r, 401, "invalid_client").await;
    // scope not allowed
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "write:data")]).await;
    expect_error(r, 400, "invalid_scope").await;
    // user-only scope
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "openid")]).await;
    expect_error(r, 400, "invalid_scope").await;
    // audience not on the allow-list
    let r = s
        .post_basic("/token", &id, &secret, &[("grant_type", "client_credentials"), ("audience", "https://evil.example")])
        .await;
    expect_error(r, 400, "invalid_target").await;
    // unsupported grant types, including implicit-era ones
    for g in ["implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer", "token"] {
        let r = s.post_basic("/token", &id, &secret, &[("grant_type", g)]).await;
        expect_error(r, 400, "unsupported_grant_type").await;
    }
    // a grant type the client is not registered for
    for g in ["password", "authorization_code", "refresh_token"] {
        let r = s.post_basic("/token", &id, &secret, &[("grant_type", g)]).await;
        expect_error(r, 400, "unauthorized_client").await;
    }
    // duplicated parameter
    let r = s
        .http
        .post(s.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read:data&scope=write:data")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    // wrong content type
    let r = s.http.post(s.url("/token")).basic_auth(&id, Some(&secret)).json(&serde_json::json!({"grant_type": "client_credentials"})).send().await.unwrap();
    expect_error(r, 400, "invalid_request").await;
    // invalid UTF-8
    let r = s
        .http
        .post(s.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=client_credentials&scope=%ff%fe".to_vec())
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    // oversized body
    let big = format!("grant_type=client_credentials&scope={}", "a".repeat(64 * 1024));
    let r = s
        .http
        .post(s.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "invalid_request").await;
    // credentials in the query string
    let r = s.http.post(s.url(&format!("/token?client_secret={secret}"))).basic_auth(&id, Some(&secret)).form(&cc).send().await.unwrap();
    expect_error(r, 400, "invalid_request").await;
    // two authentication methods
    let r = s
        .http
        .post(s.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;

    // suspended: invalid_client at once, and its live token introspects inactive
    let (rs_id, rs_secret) = crate::support::resource_server(&s.db).await;
    let token = s.client_credentials(&id, &secret, None).await;
    assert_eq!(s.introspect(&rs_id, &rs_secret, &token).await["active"], true);
    let store = s.tdb.store().await;
    tessera::registry::clients::set_status(&s.db, store.as_ref(), &id, tessera::registry::clients::StatusChange::Suspend, Some("test")).await.unwrap();
    let h = expect_error(s.post_basic("/token", &id, &secret, &cc).await, 401, "invalid_client").await;
    assert!(h.contains_key("www-authenticate"));
    assert_eq!(s.introspect(&rs_id, &rs_secret, &token).await["active"], false);
    tessera::registry::clients::set_status(&s.db, store.as_ref(), &id, tessera::registry::clients::StatusChange::Activate, Some("test")).await.unwrap();
    assert_eq!(s.introspect(&rs_id, &rs_secret, &token).await["active"], true);

    // nothing was written to the token store by any refusal: no denylist
    // entries, no refresh tokens
    assert_eq!(s.tdb.stored(Stored::RefreshTokens).await, 0);
    assert_eq!(s.tdb.stored(Stored::Denylisted).await, 0);
}
