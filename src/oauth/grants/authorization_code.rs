//! RFC 6749 §4.1.3 with PKCE (RFC 7636): exchange a code for tokens.
//!
//! The code is redeemed (atomically, once) before anything else is checked,
//! so a code that fails a check is burnt, not left for another try. A
//! second redemption is a replay: whatever the first one issued is revoked
//! (RFC 6749 §4.1.2). The ids of what it issues are fixed and recorded by
//! the redemption itself, so a replay racing the first exchange finds them.
use super::user_tokens::{issue, Issue, Issued, Preset};
use super::Stores;
use crate::error::{Error, Result};
use crate::oauth::authorize::CodeData;
use crate::oauth::issuer::Issuer;
use crate::oauth::params::Params;
use crate::oauth::pkce;
use crate::registry::clients::Client;
use crate::store::CodeRedemption;

/// The checks between a redeemed code and the token request (pure).
pub fn check(data: &CodeData, client: &Client, params: &Params) -> Result<()> {
    if data.client_id != client.client_id {
        return Err(Error::invalid_grant("the code was issued to another client"));
    }
    match (params.get("redirect_uri"), data.redirect_uri_given) {
        (Some(u), _) if u == data.redirect_uri => {}
        (None, false) => {}
        _ => return Err(Error::invalid_grant("redirect_uri does not match the authorization request")),
    }
    match (&data.code_challenge, params.get("code_verifier")) {
        (Some(ch), Some(v)) if pkce::verify(ch, v) => Ok(()),
        (Some(_), Some(_)) => Err(Error::invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => Err(Error::invalid_grant("code_verifier is required")),
        // A verifier without a challenge is a downgrade attempt (RFC 9700 §4.8.2).
        (None, Some(_)) => Err(Error::invalid_grant("no code_challenge was sent with the authorization request")),
        (None, None) => Ok(()),
    }
}

pub async fn exchange(s: Stores<'_>, issuer: &Issuer, client: &Client, params: &Params, epochs: Option<&crate::registry::consents::Epochs>, jkt: Option<&str>) -> Result<crate::oauth::tokens::TokenResponse> {
    let code = params.require("code")?;
    let hash = crate::crypto::digest(code);
    let now = crate::db::now();
    let preset = Preset::new(issuer, now);
    let record = serde_json::to_string(&preset).map_err(|e| Error::invalid_request(e.to_string()))?;
    let data = match s.store.redeem_code(&hash, now, &record).await? {
        CodeRedemption::Redeemed(d) => d,
        CodeRedemption::Replayed(issued) => {
            if let Some(i) = issued.and_then(|s| serde_json::from_str::<Preset>(&s).ok()) {
                s.store.revoke_family(&i.family_id, now).await?;
                s.store.deny(&i.jti, i.exp).await?;
            }
            crate::registry::audit::record(
                s.db,
                crate::registry::audit::Event { event: "code.replayed", client_id: Some(&client.client_id), ..Default::default() },
            )
            .await;
            return Err(Error::invalid_grant("the code was already used; tokens issued from it are revoked"));
        }
        CodeRedemption::Invalid => return Err(Error::invalid_grant("the code is invalid or expired")),
    };
    let data: CodeData =
        serde_json::from_str(&data).map_err(|_| Error::invalid_grant("the code is invalid or expired"))?;
    check(&data, client, params)?;
    // A code asked for with `dpop_jkt` is exchanged with a proof by that key (RFC 9449 §10).
    if data.dpop_jkt.as_deref().is_some_and(|bound| jkt != Some(bound)) {
        return Err(Error::invalid_grant("the authorization request named a DPoP key (dpop_jkt): prove possession of it"));
    }
    // The user may have revoked the app between consent and exchange.
    let Some(consent) = s.grants.find(s.db, &data.user_id, &client.client_id, epochs).await? else {
        return Err(Error::invalid_grant("the grant was revoked"));
    };
    let issued = issue(
        s,
        issuer,
        Issue {
            client,
            user_id: &data.user_id,
            scopes: &data.scopes,
            family_scope: crate::oauth::scopes::join(&data.scopes),
            grant_id: Some(&consent.grant_id),
            auth_time: data.auth_time,
            nonce: data.nonce.as_deref(),
            rotate_from: None,
            preset: Some(&preset),
            jkt,
            sid: data.sid.as_deref(),
        },
    )
    .await?;
    let Issued::Tokens(resp) = issued else {
        return Err(Error::invalid_grant("the code is invalid or expired"));
    };
    s.store.seal_code_family(&hash, &preset.family_id, now).await?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::clients::ClientType;

    const V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn data(challenge: Option<&str>) -> CodeData {
        CodeData {
            client_id: "c1".into(),
            redirect_uri: "https://app/cb".into(),
            redirect_uri_given: true,
            code_challenge: challenge.map(str::to_string),
            user_id: "u".into(),
            scopes: vec![],
            nonce: None,
            auth_time: 0,
            dpop_jkt: None,
            sid: None,
        }
    }

    fn client(id: &str) -> Client {
        crate::registry::clients::test_client(id, ClientType::Public, None, "active")
    }

    #[test]
    fn binding_checks() {
        let ok = Params::from_pairs([("redirect_uri", "https://app/cb"), ("code_verifier", V)]);
        assert!(check(&data(Some(CH)), &client("c1"), &ok).is_ok());
        assert!(check(&data(Some(CH)), &client("c2"), &ok).is_err(), "code injection across clients");
        let wrong_uri = Params::from_pairs([("redirect_uri", "https://app/cb2"), ("code_verifier", V)]);
        assert!(check(&data(Some(CH)), &client("c1"), &wrong_uri).is_err());
        let no_uri = Params::from_pairs([("code_verifier", V)]);
        assert!(check(&data(Some(CH)), &client("c1"), &no_uri).is_err(), "redirect_uri was given, must be repeated");
        let no_verifier = Params::from_pairs([("redirect_uri", "https://app/cb")]);
        assert!(check(&data(Some(CH)), &client("c1"), &no_verifier).is_err());
        let bad = Params::from_pairs([("redirect_uri", "https://app/cb"), ("code_verifier", &V.replace('d', "e"))]);
        assert!(check(&data(Some(CH)), &client("c1"), &bad).is_err());
        assert!(check(&data(None), &client("c1"), &ok).is_err(), "PKCE downgrade");
        assert!(check(&data(None), &client("c1"), &no_verifier).is_ok());
    }
}
