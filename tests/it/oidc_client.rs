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
