//! DPoP (RFC 9449) end to end: proofs at the token endpoint with server
//! nonces, replays refused, key-bound access tokens (`cnf.jkt`, `token_type
//! DPoP`), codes bound by `dpop_jkt` (in the request or through PAR), a
//! public client's refresh token bound to its key, `/userinfo` with
//! `Authorization: DPoP` and a proof carrying `ath`, and a bound token
//! refused as `Bearer`.
use serde_json::{json, Value};

use crate::both_backends;
use crate::private_key_jwt::Key;
use crate::support::{app, browser, location_params, machine_client, start, user, Backend, TestServer, REDIRECT, VERIFIER};

both_backends!(machine_tokens_bound_to_a_key, user_tokens_bound_from_code_to_refresh_to_userinfo);

impl Key {
    /// A DPoP proof for `htm` `htu`, with the server's `nonce` and, at a resource, `ath`.
    pub fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>, access_token: Option<&str>) -> String {
        let mut claims = json!({"jti": tessera::crypto::new_jti(), "htm": htm, "htu": htu, "iat": tessera::db::now()});
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = access_token {
            claims["ath"] = json!(tessera::oauth::dpop::ath(t));
        }
        self.sign_with_jwk("dpop+jwt", &claims)
    }

    pub fn jkt(&self) -> String {
        tessera::oauth::dpop::thumbprint(&self.jwk).unwrap()
    }
}

fn payload(jwt: &str) -> Value {
    use base64::Engine;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn token_with_proof(s: &TestServer, proof: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut r = s.http.post(s.url("/token")).header("DPoP", proof).form(form);
    if let Some((id, secret)) = basic {
        r = r.basic_auth(id, Some(secret));
    }
    r.send().await.unwrap()
}

async fn error_of(r: reqwest::Response) -> (u16, String) {
    let st = r.status().as_u16();
    (st, r.json::<Value>().await.unwrap()["error"].as_str().unwrap_or("").to_string())
}

/// The server's nonce: the answer to a proof without one.
async fn server_nonce(s: &TestServer, key: &Key, basic: (&str, &str)) -> String {
    let r = token_with_proof(s, &key.proof("POST", &s.url("/token"), None, None), Some(basic), &[("grant_type", "client_credentials")]).await;
    let nonce = r.headers().get("dpop-nonce").expect("DPoP-Nonce").to_str().unwrap().to_string();
    assert_eq!(error_of(r).await, (400, "use_dpop_nonce".into()));
    nonce
}

async fn machine_tokens_bound_to_a_key(b: Backend) {
    let s = start(b).await;
    let meta: Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert!(meta["dpop_signing_alg_values_supported"].as_array().unwrap().contains(&json!("ES256")));
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let key = Key::new("dpop");
    let nonce = server_nonce(&s, &key, (&id, &secret)).await;
    let token_url = s.url("/token");
    let cc = [("grant_type", "client_credentials")];

    let proof = key.proof("POST", &token_url, Some(&nonce), None);
    let r = token_with_proof(&s, &proof, Some((&id, &secret)), &cc).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("dpop-nonce"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "DPoP");
    let access = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(payload(&access)["cnf"]["jkt"], key.jkt());
    // introspection tells a resource server which key to expect
    let (rs, rs_secret) = crate::support::resource_server(&s.db).await;
    let i = s.introspect(&rs, &rs_secret, &access).await;
    assert_eq!((i["token_type"].as_str(), i["cnf"]["jkt"].as_str()), (Some("DPoP"), Some(key.jkt().as_str())));

    // a resource server verifies the token offline and the proof itself (examples/resource_server.rs)
    let rs_base = crate::rotation::start_resource_server(s.base.clone(), "https://api.example.com".into());
    let data = format!("{rs_base}/data");
    let rs_proof = key.proof("GET", &data, None, Some(&access));
    let r = s.http.get(&data).header("Authorization", format!("DPoP {access}")).header("DPoP", &rs_proof).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.http.get(&data).header("Authorization", format!("DPoP {access}")).header("DPoP", &rs_proof).send().await.unwrap();
    assert_eq!(r.status(), 401, "a replayed proof");
    let r = s.http.get(&data).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("DPoP "));
    let thief = Key::new("thief");
    let r = s.http.get(&data).header("Authorization", format!("DPoP {access}")).header("DPoP", thief.proof("GET", &data, None, Some(&access))).send().await.unwrap();
    assert_eq!(r.status(), 401, "a stolen token with the thief's own key");

    // refused: the same proof again, another URL, another method, an unsigned header, a stale nonce
    assert_eq!(error_of(token_with_proof(&s, &proof, Some((&id, &secret)), &cc).await).await, (400, "invalid_dpop_proof".into()));
    for bad in [
        key.proof("POST", &s.url("/revoke"), Some(&nonce), None),
        key.proof("GET", &token_url, Some(&nonce), None),
        key.proof("POST", &token_url, Some("1.forged"), None),
    ] {
        let (st, code) = error_of(token_with_proof(&s, &bad, Some((&id, &secret)), &cc).await).await;
        assert!(st == 400 && (code == "invalid_dpop_proof" || code == "use_dpop_nonce"), "{code}");
    }
    let r = s.http.post(&token_url).basic_auth(&id, Some(&secret)).header("DPoP", "not.a.jwt").form(&cc).send().await.unwrap();
    assert_eq!(error_of(r).await, (400, "invalid_dpop_proof".into()));

    // a client registered for DPoP-bound tokens gets none without a proof
    let n = tessera::registry::clients::NewClient {
        name: "Bank".into(),
        client_type: "confidential".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["read:data".into()],
        require_dpop: true,
        ..Default::default()
    };
    let bank = tessera::oauth::registration::register(&s.db, n, None).await.unwrap();
    let (bid, bsecret) = (bank.client.client_id, bank.client_secret.unwrap());
    assert_eq!(error_of(s.post_basic("/token", &bid, &bsecret, &cc).await).await, (400, "invalid_request".into()));
    let r = token_with_proof(&s, &key.proof("POST", &token_url, Some(&nonce), None), Some((&bid, &bsecret)), &cc).await;
    assert_eq!(r.status(), 200);
}

async fn user_tokens_bound_from_code_to_refresh_to_userinfo(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let (client, _) = app(&s.db, "public", "openid read:data").await;
    let (m, msecret) = machine_client(&s.db, "read:data").await;
    let key = Key::new("phone");
    let nonce = server_nonce(&s, &key, (&m, &msecret)).await;
    let token_url = s.url("/token");

    // a code asked for with dpop_jkt is for that key only (the code is burnt by a try without it)
    let r = s.login_and_consent(&browser(), &s.authorize_url(&client, "openid read:data", &[("dpop_jkt", &key.jkt())]), "alice").await;
    let code = location_params(&r)["code"].clone();
    let exchange = [("grant_type", "authorization_code"), ("code", code.as_str()), ("client_id", client.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let other = Key::new("thief");
    let r = token_with_proof(&s, &other.proof("POST", &token_url, Some(&nonce), None), None, &exchange).await;
    assert_eq!(error_of(r).await, (400, "invalid_grant".into()));

    // pushed with a proof: the code is bound to the pushing key
    let par = [
        ("client_id", client.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid read:data"),
        ("code_challenge", crate::support::CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let r = s.http.post(s.url("/par")).header("DPoP", key.proof("POST", &s.url("/par"), Some(&nonce), None)).form(&par).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let request_uri = r.json::<Value>().await.unwrap()["request_uri"].as_str().unwrap().to_string();
    let mut u = url::Url::parse(&s.url("/authorize")).unwrap();
    u.query_pairs_mut().append_pair("client_id", &client).append_pair("request_uri", &request_uri);
    let r = s.login_and_consent(&browser(), u.as_str(), "alice").await;
    let code = location_params(&r)["code"].clone();
    let exchange = [("grant_type", "authorization_code"), ("code", code.as_str()), ("client_id", client.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let r = token_with_proof(&s, &key.proof("POST", &token_url, Some(&nonce), None), None, &exchange).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());

    // userinfo: with the key's proof (ath) yes; as Bearer no, with a DPoP challenge; without ath no
    let userinfo = s.url("/userinfo");
    let r = s.http.get(&userinfo).header("Authorization", format!("DPoP {access}")).header("DPoP", key.proof("GET", &userinfo, Some(&nonce), Some(access))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["sub"], alice.as_str());
    let r = s.http.get(&userinfo).bearer_auth(access).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("DPoP "), "{:?}", r.headers()["www-authenticate"]);
    let r = s.http.get(&userinfo).header("Authorization", format!("DPoP {access}")).header("DPoP", key.proof("GET", &userinfo, Some(&nonce), None)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.http.get(&userinfo).header("Authorization", format!("DPoP {access}")).header("DPoP", other.proof("GET", &userinfo, Some(&nonce), Some(access))).send().await.unwrap();
    assert_eq!(r.status(), 401, "another key's proof");

    // the public client's refresh token is bound to the key
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", client.as_str())];
    assert_eq!(error_of(s.http.post(&token_url).form(&form).send().await.unwrap()).await, (400, "invalid_grant".into()));
    assert_eq!(error_of(token_with_proof(&s, &other.proof("POST", &token_url, Some(&nonce), None), None, &form).await).await, (400, "invalid_grant".into()));
    let r = token_with_proof(&s, &key.proof("POST", &token_url, Some(&nonce), None), None, &form).await;
    assert_eq!(r.status(), 200, "the refusals above did not spend the refresh token");
    assert_eq!(payload(r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
}
