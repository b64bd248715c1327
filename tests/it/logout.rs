//! Logout that reaches the apps: the `openidconnect` crate builds an
//! RP-initiated logout from discovery (`end_session_endpoint`) with the ID
//! token as hint; the session ends, the browser returns to the registered
//! URI with `state`, and a back-channel receiver on loopback gets a
//! `logout_token` it verifies through the JWKS. Without a hint a page asks
//! first; an unregistered return address is not followed; disabling the
//! user tells the apps too.
use std::time::Duration;

use openidconnect::core::CoreIdToken;
use openidconnect::{CsrfToken, IssuerUrl, LogoutRequest, PostLogoutRedirectUrl, ProviderMetadataWithLogout};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::both_backends;
use crate::support::{browser, hidden, location_params, start, user, Backend, TestServer, REDIRECT, VERIFIER};

both_backends!(rp_initiated_and_back_channel_logout);

const BYE: &str = "http://127.0.0.1:9/bye";

/// A back-channel receiver on loopback: every POST body goes to the channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head.lines().find_map(|l| l.to_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))).unwrap_or(0);
                        if body.len() >= len {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                            let _ = tx.send(body[..len].to_string());
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}/backchannel"), rx)
}

/// The next logout token the receiver got, verified through the JWKS.
async fn next_logout_token(s: &TestServer, rx: &mut mpsc::UnboundedReceiver<String>) -> Value {
    let body = tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.expect("a logout token within 15 s").unwrap();
    let token = url::form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "logout_token").map(|(_, v)| v.to_string()).expect("logout_token");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet = s.http.get(s.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the signing key is published");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[&s.base]);
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v).expect("the logout token verifies").claims;
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object(), "{claims}");
    assert!(claims.get("nonce").is_none() && claims["jti"].is_string() && claims["iat"].is_i64());
    claims
}

/// Sign in through the code flow in `b`; the ID token.
async fn signed_in_app(s: &TestServer, b: &reqwest::Client, client_id: &str, secret: &str) -> String {
    let r = s.login_and_consent(b, &s.authorize_url(client_id, "openid read:data", &[]), "alice").await;
    let code = location_params(&r)["code"].clone();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let v: Value = s.post_basic("/token", client_id, secret, &form).await.json().await.unwrap();
    v["id_token"].as_str().unwrap().to_string()
}

async fn rp_initiated_and_back_channel_logout(be: Backend) {
    let s = start(be).await;
    let alice = user(&s.db, "alice", "user").await;
    let (uri, mut rx) = receiver().await;
    let n = tessera::registry::clients::NewClient {
        name: "Wiki".into(),
        client_type: "confidential".into(),
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["openid".into(), "read:data".into()],
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        backchannel_logout_uri: Some(uri),
        ..Default::default()
    };
    let c = tessera::oauth::registration::register(&s.db, n, None).await.unwrap();
    let (id, secret) = (c.client.client_id, c.client_secret.unwrap());

    // the crate finds the end-session endpoint and builds the request from the ID token
    let http = openidconnect::reqwest::ClientBuilder::new().redirect(openidconnect::reqwest::redirect::Policy::none()).build().unwrap();
    let meta = ProviderMetadataWithLogout::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http).await.expect("discovery");
    let end_session = meta.additional_metadata().end_session_endpoint.clone().expect("end_session_endpoint");
    let raw: Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!((raw["backchannel_logout_supported"].as_bool(), raw["backchannel_logout_session_supported"].as_bool()), (Some(true), Some(true)));

    let b = browser();
    let id_token = signed_in_app(&s, &b, &id, &secret).await;
    let id_claims: Value = {
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap()
    };
    let sid = id_claims["sid"].as_str().expect("the ID token carries sid").to_string();
    let hint: CoreIdToken = id_token.parse().unwrap();
    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(&hint)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(BYE.into()).unwrap())
        .set_state(CsrfToken::new("st8".into()))
        .http_get_url();
    // the hint names this session: signed out at once, back to the app with state
    let r = b.get(logout_url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], format!("{BYE}?state=st8"));
    assert_eq!(b.get(s.url("/account")).send().await.unwrap().status(), 302, "the session ended");
    let claims = next_logout_token(&s, &mut rx).await;
    assert_eq!((claims["aud"].as_str(), claims["sub"].as_str(), claims["sid"].as_str()), (Some(id.as_str()), Some(alice.as_str()), Some(sid.as_str())));

    // without a hint a page asks first; an unregistered return address is not followed
    let b = browser();
    signed_in_app(&s, &b, &id, &secret).await;
    let mut u = url::Url::parse(&s.url("/logout")).unwrap();
    u.query_pairs_mut().append_pair("client_id", &id).append_pair("post_logout_redirect_uri", "https://evil.example.com/");
    let page = b.get(u.as_str()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign out?") && page.contains("Wiki"), "{page}");
    assert_eq!(b.get(s.url("/account")).send().await.unwrap().status(), 200, "asking signed nobody out");
    let form = [("csrf", hidden(&page, "csrf")), ("client_id", id.clone()), ("post_logout_redirect_uri", "https://evil.example.com/".into()), ("confirm", "yes".into())];
    let r = b.post(s.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200, "no redirect to an unregistered address");
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert_eq!(next_logout_token(&s, &mut rx).await["sub"], alice.as_str());

    // ending her sessions from the command line tells the apps before the command returns,
    // and every delivery is in the audit trail
    let b = browser();
    signed_in_app(&s, &b, &id, &secret).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["user", "sessions", "revoke", "alice", "--json"])
        .envs(s.tdb.env())
        .env("TESSERA_ISSUER", &s.base)
        .env("TESSERA_OUTBOUND_ALLOW_PRIVATE", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(next_logout_token(&s, &mut rx).await["sub"], alice.as_str());
    assert!(crate::support::count_where(&s.db, "audit_events", "event = 'logout.delivered'").await >= 1);

    // an admin disables the user: the apps her sessions signed in to are told
    let b = browser();
    signed_in_app(&s, &b, &id, &secret).await;
    user(&s.db, "root", "admin").await;
    let admin = crate::web::signed_in(&s, "root").await;
    let console = admin.get(s.url("/admin")).send().await.unwrap().text().await.unwrap();
    admin.post(s.url(&format!("/admin/users/{alice}/disable"))).form(&[("csrf", hidden(&console, "csrf"))]).send().await.unwrap();
    assert_eq!(next_logout_token(&s, &mut rx).await["sub"], alice.as_str());
}
