//! A client library nobody here wrote — the `openidconnect` crate, unmodified
//! — does discovery, authorization code with PKCE, ID token verification and
//! refresh against Tessera.
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};

use crate::both_backends;
use crate::support::{app, browser, location_params, start, user, Backend, REDIRECT};

both_backends!(openidconnect_crate_discovery_code_pkce_refresh);

async fn openidconnect_crate_discovery_code_pkce_refresh(b: Backend) {
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let (client_id, _) = app(&s.db, "public", "openid email read:data").await;

    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(meta, ClientId::new(client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("read:data".into()))
        .set_pkce_challenge(challenge)
        .url();

    // the user logs in and consents in a browser
    let r = s.login_and_consent(&browser(), url.as_str(), "alice").await;
    assert_eq!(r.status(), 303);
    let q = location_params(&r);
    assert_eq!(&q["state"], csrf.secret());
    let code = q["code"].clone();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), alice);
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);

    let refresh = tokens.refresh_token().expect("refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(refreshed.refresh_token().unwrap().secret(), refresh.secret(), "rotated");
    // the used refresh token is now refused
    assert!(client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await.is_err());
}

both_backends!(openidconnect_crate_device_flow);

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
struct DeviceEndpoint {
    device_authorization_endpoint: openidconnect::DeviceAuthorizationUrl,
}
impl openidconnect::AdditionalProviderMetadata for DeviceEndpoint {}
type DeviceProviderMetadata = openidconnect::ProviderMetadata<
    DeviceEndpoint,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

/// The crate's device flow (RFC 8628) as its own example for Okta runs it:
/// discovery names the device endpoint, the crate asks for codes and polls.
/// Its first poll hears `authorization_pending`; while it waits out the
/// interval (the wait is where the person acts, not a timer) the user
/// approves on the device page; its next poll gets the tokens.
async fn openidconnect_crate_device_flow(b: Backend) {
    use openidconnect::core::CoreDeviceAuthorizationResponse;
    let s = start(b).await;
    let alice = user(&s.db, "alice", "user").await;
    let client_id = crate::support::device_app(&s.db, &["device_code", "refresh_token"]).await;
    let http = openidconnect::reqwest::ClientBuilder::new().redirect(openidconnect::reqwest::redirect::Policy::none()).build().unwrap();
    let meta = DeviceProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http).await.expect("discovery");
    let endpoint = meta.additional_metadata().device_authorization_endpoint.clone();
    let client = CoreClient::from_provider_metadata(meta, ClientId::new(client_id.clone()), None)
        .set_device_authorization_url(endpoint)
        .set_auth_type(openidconnect::AuthType::RequestBody);
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("read:data".into()))
        .request_async(&http)
        .await
        .expect("device authorization");
    let complete = details.verification_uri_complete().expect("verification_uri_complete").secret().to_string();
    let user_code = details.user_code().secret().to_string();

    let waits = std::sync::atomic::AtomicUsize::new(0);
    let (s_ref, waits_ref) = (&s, &waits);
    let tokens = client
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(
            &http,
            |interval| {
                let (complete, user_code) = (complete.clone(), user_code.clone());
                async move {
                    assert_eq!(interval, std::time::Duration::from_secs(5), "the server's interval");
                    assert_eq!(waits_ref.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0, "one wait: pending, then tokens");
                    s_ref.approve_device("alice", &complete, &user_code).await;
                }
            },
            None,
        )
        .await
        .expect("device tokens");
    assert_eq!(waits.load(std::sync::atomic::Ordering::SeqCst), 1);
    let id_token = tokens.id_token().expect("id_token");
    let verifier = client.id_token_verifier();
    // RFC 8628 has no nonce: accept its absence
    let claims = id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())).expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), alice);
    assert!(tokens.refresh_token().is_some());
    assert_eq!(tokens.scopes().map(|v| v.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>()), Some(vec!["openid".to_string(), "read:data".to_string()]));
}
