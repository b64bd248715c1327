//! A client held to the FAPI 2.0 Security Profile (`--profile fapi2`): it
//! must be registered with private_key_jwt, push its authorization
//! requests, use PKCE, and get DPoP-bound tokens; each missing piece is
//! refused with the endpoint's error naming it.
use serde_json::{json, Value};

use crate::both_backends;
use crate::cli::{json as cli_json, tessera};
use crate::private_key_jwt::Key;
use crate::support::{browser, location_params, start, user, Backend, CHALLENGE, REDIRECT, VERIFIER};

both_backends!(a_fapi2_client_gets_tokens_only_the_fapi2_way, admins_set_the_profile_and_the_flags);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn a_fapi2_client_gets_tokens_only_the_fapi2_way(b: Backend) {
    let s = start(b).await;
    user(&s.db, "alice", "user").await;
    let key = Key::new("bank-1");
    let file = s.tdb.dir.path().join("bank-jwks.json");
    std::fs::write(&file, json!({"keys": [key.jwk.clone()]}).to_string()).unwrap();
    let base = ["client", "create", "--name", "Bank", "--grant-types", "authorization_code,refresh_token", "--scopes", "openid read:data", "--redirect-uris", REDIRECT, "--profile", "fapi2"];
    // with a secret: refused, naming what the profile needs
    let refused = tessera(&s, &[&base[..], &["--json"]].concat());
    assert!(!refused.ok && refused.stderr.contains("private_key_jwt"), "{}", refused.stderr);
    let created = cli_json(&tessera(&s, &[&base[..], &["--auth-method", "private_key_jwt", "--jwks-file", file.to_str().unwrap(), "--json"]].concat()));
    let id = created["client_id"].as_str().unwrap().to_string();
    assert_eq!(created["profile"], "fapi2");

    // an authorization request that was not pushed is refused on a page that says so
    let r = browser().get(s.authorize_url(&id, "openid read:data", &[])).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("PAR"));

    // pushed, with the client's assertion and a DPoP proof (after the server's nonce)
    let par_url = s.url("/par");
    let push = |proof: Option<String>| {
        let (s, key, id, par_url) = (&s, &key, id.clone(), par_url.clone());
        async move {
            let assertion = key.assertion(&id, &s.base, 60);
            let form = [
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid read:data"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ];
            let mut r = s.http.post(&par_url).form(&form);
            if let Some(p) = proof {
                r = r.header("DPoP", p);
            }
            r.send().await.unwrap()
        }
    };
    let r = push(Some(key.proof("POST", &par_url, None, None))).await;
    assert_eq!(r.status(), 400);
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let r = push(Some(key.proof("POST", &par_url, Some(&nonce), None))).await;
    assert_eq!(r.status(), 201);
    let request_uri = r.json::<Value>().await.unwrap()["request_uri"].as_str().unwrap().to_string();
    let mut u = url::Url::parse(&s.url("/authorize")).unwrap();
    u.query_pairs_mut().append_pair("client_id", &id).append_pair("request_uri", &request_uri);
    let r = s.login_and_consent(&browser(), u.as_str(), "alice").await;
    let q = location_params(&r);
    assert_eq!(q["iss"], s.base, "iss in the authorization response");

    // the token request: without DPoP refused (naming it, the code kept), with it a DPoP-bound token
    let token_url = s.url("/token");
    let exchange = |proof: Option<String>| {
        let (s, key, id, token_url, code) = (&s, &key, id.clone(), token_url.clone(), q["code"].clone());
        async move {
            let assertion = key.assertion(&id, &token_url, 60);
            let form = [
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ];
            let mut r = s.http.post(&token_url).form(&form);
            if let Some(p) = proof {
                r = r.header("DPoP", p);
            }
            r.send().await.unwrap()
        }
    };
    let r = exchange(None).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_request");
    assert!(e["error_description"].as_str().unwrap().contains("FAPI 2.0") && e["error_description"].as_str().unwrap().contains("DPoP"), "{e}");
    let r = exchange(Some(key.proof("POST", &token_url, Some(&nonce), None))).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string());
    // a secret gets nowhere: the client has none
    let r = s.post_basic("/token", &id, "tsr_anything", &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(r.status(), 401);
}

/// The console and the admin API change PAR, DPoP, the profile and the key
/// URL of an existing client, under the registration's rules.
async fn admins_set_the_profile_and_the_flags(b: Backend) {
    let s = start(b).await;
    user(&s.db, "root", "admin").await;
    let (ops, ops_secret) = crate::support::machine_client(&s.db, "tessera:admin").await;
    let admin = s.client_credentials(&ops, &ops_secret, Some("tessera:admin")).await;
    let (m, m_secret) = crate::support::machine_client(&s.db, "read:data").await;
    let security = |id: &str| s.url(&format!("/admin/api/clients/{id}/security"));
    // a client with a secret cannot be held to FAPI 2.0
    let r = s.http.post(security(&m)).bearer_auth(&admin).json(&json!({"profile": "fapi2"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error_description"].as_str().unwrap().contains("private_key_jwt"));
    // the console makes its tokens DPoP-bound: a token request without a proof is refused
    let console = crate::web::signed_in(&s, "root").await;
    let (_, page) = crate::web::page(&console, s.url(&format!("/admin/clients/{m}"))).await;
    let form = [("csrf", crate::support::hidden(&page, "csrf")), ("require_dpop", "1".to_string())];
    let r = console.post(s.url(&format!("/admin/clients/{m}/security"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.post_basic("/token", &m, &m_secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error_description"].as_str().unwrap().contains("DPoP"));
    // a key-authenticated client can be
    let key = Key::new("k");
    let r = s
        .http
        .post(s.url("/admin/api/clients"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Bank", "grant_types": ["client_credentials"], "scopes": ["read:data"], "auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk.clone()]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bank = r.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_string();
    let r = s.http.post(security(&bank)).bearer_auth(&admin).json(&json!({"profile": "fapi2", "require_par": true})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["profile"].as_str(), v["require_par"].as_bool()), (Some("fapi2"), Some(true)));
}
