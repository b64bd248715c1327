//! RFC 7009 revocation and RFC 7662 introspection.
use crate::both_backends;
use crate::support::{machine_client, start, Backend};

both_backends!(revoked_tokens_introspect_inactive, introspection_rejects_garbage_and_foreign_tokens, a_client_introspects_its_own_tokens_only);

async fn revoked_tokens_introspect_inactive(b: Backend) {
    let s = start(b).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let t1 = s.client_credentials(&id, &secret, None).await;
    let t2 = s.client_credentials(&id, &secret, None).await;

    let v = s.introspect(&rs, &rs_secret, &t1).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], id.as_str());
    assert_eq!(v["scope"], "read:data");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["iss"], s.base.as_str());

    // another client may not revoke it
    let r = s.post_basic("/revoke", &rs, &rs_secret, &[("token", &t1)]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(s.introspect(&rs, &rs_secret, &t1).await["active"], true);

    // its own client may
    let r = s.post_basic("/revoke", &id, &secret, &[("token", &t1), ("token_type_hint", "access_token")]).await;
    assert_eq!(r.status(), 200);
    let v = s.introspect(&rs, &rs_secret, &t1).await;
    assert_eq!(v, serde_json::json!({"active": false}), "an inactive answer carries nothing else");
    // the other token is untouched
    assert_eq!(s.introspect(&rs, &rs_secret, &t2).await["active"], true);
    // revoking again, or revoking garbage, is fine (RFC 7009 §2.2)
    assert_eq!(s.post_basic("/revoke", &id, &secret, &[("token", &t1)]).await.status(), 200);
    assert_eq!(s.post_basic("/revoke", &id, &secret, &[("token", "garbage")]).await.status(), 200);
    // unknown hint
    let r = s.post_basic("/revoke", &id, &secret, &[("token", &t2), ("token_type_hint", "id_token")]).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unsupported_token_type");
    // revocation needs client authentication
    let r = s.http.post(s.url("/revoke")).form(&[("token", &t2)]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.introspect(&rs, &rs_secret, &t2).await["active"], true);
}

async fn introspection_rejects_garbage_and_foreign_tokens(b: Backend) {
    let s = start(b).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let good = s.client_credentials(&id, &secret, None).await;

    // another Tessera (own keys) issues a token: foreign here
    let other = start(b).await;
    let (oid, osecret) = machine_client(&other.db, "read:data").await;
    let foreign = other.client_credentials(&oid, &osecret, None).await;

    let mut parts: Vec<&str> = good.split('.').collect();
    let tampered_payload = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["scope"] = "read:data write:data".into();
        b64.encode(claims.to_string())
    };
    parts[1] = &tampered_payload;
    let tampered = parts.join(".");
    let alg_none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let p: Vec<&str> = good.split('.').collect();
        format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"at+jwt"}"#), p[1])
    };
    // HS256 "signed" with the public key as the HMAC secret (the classic key-confusion attack)
    let hs256 = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let p: Vec<&str> = good.split('.').collect();
        let kid = jsonwebtoken::decode_header(&good).unwrap().kid.unwrap();
        let jwks: serde_json::Value = s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        let n = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap()["n"].as_str().unwrap().to_string();
        let header = b64.encode(format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#));
        let input = format!("{header}.{}", p[1]);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, n.as_bytes());
        format!("{input}.{}", b64.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref()))
    };
    for t in ["garbage", "a.b.c", "", &foreign, &tampered, &alg_none, &hs256] {
        if t.is_empty() {
            let r = s.post_basic("/introspect", &id, &secret, &[("token", t)]).await;
            assert_eq!(r.status(), 400, "missing token is invalid_request");
            continue;
        }
        assert_eq!(s.introspect(&id, &secret, t).await, serde_json::json!({"active": false}), "{t}");
    }
    assert_eq!(s.introspect(&id, &secret, &good).await["active"], true);
    // unauthenticated introspection is refused
    let r = s.http.post(s.url("/introspect")).form(&[("token", &good)]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.post_basic("/introspect", &id, "wrong", &[("token", &good)]).await;
    assert_eq!(r.status(), 401);
}

/// RFC 7662 §4: the caller is authorized. A confidential client learns about
/// its own tokens; about another client's only with the introspection
/// permission an admin gives resource servers. Otherwise `active: false`,
/// the answer for a token that does not exist.
async fn a_client_introspects_its_own_tokens_only(b: Backend) {
    let s = start(b).await;
    let (a, a_secret) = machine_client(&s.db, "read:data").await;
    let (other, other_secret) = machine_client(&s.db, "read:data").await;
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let token = s.client_credentials(&a, &a_secret, None).await;
    assert_eq!(s.introspect(&a, &a_secret, &token).await["active"], true, "its own token");
    assert_eq!(s.introspect(&other, &other_secret, &token).await, serde_json::json!({"active": false}), "someone else's");
    assert_eq!(s.introspect(&rs, &rs_secret, &token).await["active"], true, "a resource server's permission");
    // refresh tokens the same way
    crate::support::user(&s.db, "alice", "user").await;
    let (app, _) = crate::support::app(&s.db, "public", "openid read:data").await;
    let refresh = s.tokens_for(&app, "alice", "read:data").await["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(s.introspect(&other, &other_secret, &refresh).await, serde_json::json!({"active": false}));
    assert_eq!(s.introspect(&rs, &rs_secret, &refresh).await["active"], true);
    // an admin takes the permission back, and gives it: at once
    let store = s.tdb.store().await;
    tessera::registry::clients::set_introspection(&s.db, store.as_ref(), &rs, false, Some("admin")).await.unwrap();
    assert_eq!(s.introspect(&rs, &rs_secret, &token).await["active"], false);
    tessera::registry::clients::set_introspection(&s.db, store.as_ref(), &other, true, Some("admin")).await.unwrap();
    assert_eq!(s.introspect(&other, &other_secret, &token).await["active"], true);
}
