//! `private_key_jwt` (RFC 7523, OpenID Connect Core §9): clients that sign
//! assertions instead of sending a secret, with keys registered inline or
//! published at a `jwks_uri`. (The `openidconnect` crate has no
//! `private_key_jwt`: its `oauth2` 5 sends secrets only; the assertions here
//! are signed as RFC 7523 §3 says, with `jsonwebtoken`.)
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::cli::{json as cli_json, tessera};
use crate::support::{start, Backend, TestServer};

both_backends!(assertions_authenticate_once_each, keys_published_at_a_uri_are_fetched_and_refetched);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A P-256 key pair: its public JWK (with `kid`) and a way to sign.
pub struct Key {
    pkcs8: Vec<u8>,
    pub jwk: Value,
}

impl Key {
    pub fn new(kid: &str) -> Key {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap().as_ref().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])});
        Key { pkcs8, jwk }
    }

    pub fn sign(&self, header_extra: Value, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = self.jwk["kid"].as_str().map(str::to_string);
        if let Some(t) = header_extra.get("typ").and_then(|t| t.as_str()) {
            header.typ = Some(t.to_string());
        }
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }

    /// A JWT of `typ` carrying this key's public JWK in its header (a DPoP proof).
    pub fn sign_with_jwk(&self, typ: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some(typ.to_string());
        header.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }

    /// A client assertion of `client_id` for `aud`, living `ttl` seconds.
    pub fn assertion(&self, client_id: &str, aud: &str, ttl: i64) -> String {
        let now = tessera::db::now();
        let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + ttl, "jti": tessera::crypto::new_jti()});
        self.sign(json!({}), &claims)
    }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

async fn with_assertion(s: &TestServer, path: &str, assertion: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let mut f: Vec<(&str, &str)> = vec![("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)];
    f.extend_from_slice(form);
    s.http.post(s.url(path)).form(&f).send().await.unwrap()
}

async fn status_and_error(r: reqwest::Response) -> (u16, String) {
    let st = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (st, v["error"].as_str().unwrap_or("").to_string())
}

async fn assertions_authenticate_once_each(b: Backend) {
    let s = start(b).await;
    let key = Key::new("k1");
    let file = s.tdb.dir.path().join("jwks.json");
    std::fs::write(&file, jwks(&[&key]).to_string()).unwrap();
    // a private key in the set is refused with a message, and nothing is registered
    let mut leaky = jwks(&[&key]);
    leaky["keys"][0]["d"] = json!("c2VjcmV0");
    let leaky_file = s.tdb.dir.path().join("leaky.json");
    std::fs::write(&leaky_file, leaky.to_string()).unwrap();
    let base = ["client", "create", "--name", "Bank", "--grant-types", "client_credentials", "--scopes", "read:data", "--auth-method", "private_key_jwt"];
    let refused = tessera(&s, &[&base[..], &["--jwks-file", leaky_file.to_str().unwrap(), "--json"]].concat());
    assert!(!refused.ok);
    let created = cli_json(&tessera(&s, &[&base[..], &["--jwks-file", file.to_str().unwrap(), "--json"]].concat()));
    assert!(created.get("client_secret").is_none(), "no secret for a key-authenticated client: {created}");
    let id = created["client_id"].as_str().unwrap().to_string();
    tessera::registry::clients::set_machine_pending(&s.db, s.tdb.store().await.as_ref(), &id, false, None).await.unwrap();
    let meta: Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert!(meta["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    assert!(meta["token_endpoint_auth_signing_alg_values_supported"].as_array().unwrap().contains(&json!("ES256")));

    // a good assertion: for the issuer or the token endpoint
    let cc = [("grant_type", "client_credentials")];
    let a = key.assertion(&id, &s.base.clone(), 60);
    let r = with_assertion(&s, "/token", &a, &cc).await;
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    let r = with_assertion(&s, "/token", &key.assertion(&id, &s.url("/token"), 60), &cc).await;
    assert_eq!(r.status(), 200);
    // the same assertion twice: a replay
    assert_eq!(status_and_error(with_assertion(&s, "/token", &a, &cc).await).await, (401, "invalid_client".into()));
    // and at the other endpoints
    let r = with_assertion(&s, "/introspect", &key.assertion(&id, &s.url("/introspect"), 60), &[("token", &token)]).await;
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
    let r = with_assertion(&s, "/revoke", &key.assertion(&id, &s.url("/revoke"), 60), &[("token", &token)]).await;
    assert_eq!(r.status(), 200);

    // refused: another audience, a long life, iss ≠ sub, another key, a secret instead
    let now = tessera::db::now();
    let claims = |iss: &str, aud: &str, exp: i64| json!({"iss": iss, "sub": id, "aud": aud, "iat": now, "exp": exp, "jti": tessera::crypto::new_jti()});
    let issuer = s.base.clone();
    for (why, assertion) in [
        ("audience", key.sign(json!({}), &claims(&id, "https://elsewhere.example.com", now + 60))),
        ("lifetime", key.sign(json!({}), &claims(&id, &issuer, now + 3600))),
        ("issuer", key.sign(json!({}), &claims("someone-else", &issuer, now + 60))),
        ("expired", key.sign(json!({}), &claims(&id, &issuer, now - 120))),
        ("key", Key::new("k1").assertion(&id, &issuer, 60)),
    ] {
        assert_eq!(status_and_error(with_assertion(&s, "/token", &assertion, &cc).await).await, (401, "invalid_client".into()), "{why}");
    }
    let r = s.post_basic("/token", &id, "tsr_guess", &cc).await;
    assert_eq!(r.status(), 401);
    let r = s.http.post(s.url("/token")).form(&[("client_assertion_type", "urn:example:other"), ("client_assertion", a.as_str()), ("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(status_and_error(r).await, (400, "invalid_request".into()));
}

/// A tiny HTTP server on loopback answering every request with `body`; counts requests.
async fn serve_jwks(body: Arc<Mutex<String>>, hits: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (body, hits) = (body.clone(), hits.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let b = body.lock().unwrap().clone();
                let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}", b.len());
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/jwks.json")
}

async fn keys_published_at_a_uri_are_fetched_and_refetched(b: Backend) {
    let s = start(b).await;
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let body = Arc::new(Mutex::new(jwks(&[&k1]).to_string()));
    let hits = Arc::new(AtomicUsize::new(0));
    let uri = serve_jwks(body.clone(), hits.clone()).await;
    let (ops, ops_secret) = crate::support::machine_client(&s.db, "tessera:admin").await;
    let admin = s.client_credentials(&ops, &ops_secret, Some("tessera:admin")).await;
    let r = s
        .http
        .post(s.url("/admin/api/clients"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Payments", "grant_types": ["client_credentials"], "scopes": ["read:data"], "auth_method": "private_key_jwt", "jwks_uri": uri}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_string();
    let cc = [("grant_type", "client_credentials")];
    let token_url = s.url("/token");
    for _ in 0..3 {
        assert_eq!(with_assertion(&s, "/token", &k1.assertion(&id, &token_url, 60), &cc).await.status(), 200);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once, then cached");
    // the client rotates to k2: an assertion with the unknown kid makes Tessera fetch again
    *body.lock().unwrap() = jwks(&[&k1, &k2]).to_string();
    assert_eq!(with_assertion(&s, "/token", &k2.assertion(&id, &token_url, 60), &cc).await.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // a kid the set still lacks is refused without a fetch storm
    let k3 = Key::new("k3");
    for _ in 0..3 {
        assert_eq!(with_assertion(&s, "/token", &k3.assertion(&id, &token_url, 60), &cc).await.status(), 401);
    }
    assert!(hits.load(Ordering::SeqCst) <= 3, "refetches are bounded: {}", hits.load(Ordering::SeqCst));

    // a developer registers such an app in the portal: no secret is made or shown
    crate::support::user(&s.db, "dev", "developer").await;
    let b = crate::web::signed_in(&s, "dev").await;
    let r = crate::web::register(&s, &b, "Signer", &[("jwks_uri", &uri)]).await;
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    assert!(!html.contains("client-secret"), "no secret for a key-authenticated app");
    let c = tessera::registry::clients::get(&s.db, &crate::web::text_of(&html, "client-id")).await.unwrap();
    assert_eq!((c.auth_method.as_deref(), c.jwks_uri.as_deref()), (Some("private_key_jwt"), Some(uri.as_str())));
}
