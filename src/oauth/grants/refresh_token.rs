//! RFC 6749 §6: refresh, with rotation on every use (RFC 9700 §4.14.2).
//! Presenting a used refresh token is reuse: the whole family is revoked.
use super::user_tokens::{issue, FamilyData, Issue, Issued};
use super::{Read, Stores};
use crate::error::{Error, Result};
use crate::oauth::issuer::Issuer;
use crate::oauth::params::Params;
use crate::oauth::scopes;
use crate::oauth::tokens::TokenResponse;
use crate::registry::audit::{self, Event};
use crate::registry::clients::Client;
use crate::store::RefreshState;

/// The scopes of a refreshed access token: the requested subset of the
/// family's scopes, of what the user still grants, and of what the client
/// is still registered for (pure rule).
pub fn refreshed_scopes(requested: Option<&str>, family: &[String], granted: &[String], registered: &[String]) -> Result<Vec<String>> {
    let base: Vec<String> = family.iter().filter(|s| granted.contains(s) && registered.contains(s)).cloned().collect();
    match requested {
        None => Ok(base),
        Some(r) => {
            let req = scopes::parse(r)?;
            scopes::require_subset(&req, &base)
                .map_err(|_| Error::invalid_scope("a refresh may narrow the scope, never widen it"))?;
            Ok(req)
        }
    }
}

async fn reuse_detected(db: &crate::db::Db, client: &Client, family_id: &str, user_id: Option<&str>) -> Error {
    crate::metrics::METRICS.event(crate::metrics::event::REFRESH_REUSE);
    audit::record(
        db,
        Event {
            event: "refresh.reuse_detected",
            client_id: Some(&client.client_id),
            user_id,
            detail: Some(serde_json::json!({"family": family_id})),
            ..Default::default()
        },
    )
    .await;
    log::warn!("refresh token reuse for client {}: family {family_id} revoked", client.client_id);
    Error::invalid_grant("refresh token reuse detected: every token of this grant is revoked")
}

/// `read`: the presented token as the store already answered for it, and the epochs of cached grants.
pub async fn exchange(s: Stores<'_>, issuer: &Issuer, client: &Client, params: &Params, read: Read, jkt: Option<&str>) -> Result<TokenResponse> {
    let presented = params.require("refresh_token")?;
    let hash = crate::store::refresh_handle(presented);
    let now = crate::db::now();
    let state = match read.refresh {
        Some(s) => s,
        None => s.store.get_refresh(&hash, now).await?,
    };
    let rec = match state {
        RefreshState::Active(r) if r.client_id == client.client_id => r,
        RefreshState::Used(r) if r.client_id == client.client_id => {
            s.store.revoke_family(&r.family_id, now).await?;
            return Err(reuse_detected(s.db, client, &r.family_id, Some(&r.user_id)).await);
        }
        _ => return Err(Error::invalid_grant("the refresh token is invalid, expired or revoked")),
    };
    let family: FamilyData =
        serde_json::from_str(&rec.data).map_err(|_| Error::invalid_grant("the refresh token is invalid"))?;
    // A public client's refresh token bound to a DPoP key needs a proof by that key (RFC 9449 §5).
    if family.jkt.as_deref().is_some_and(|bound| jkt != Some(bound)) {
        return Err(Error::invalid_grant("this refresh token is bound to a DPoP key: send a proof signed with it"));
    }
    // The consent the family came from must still stand: a consent given
    // again after a revocation is another one, and revives nothing.
    let grant = s.grants.find(s.db, &rec.user_id, &client.client_id, read.epochs.as_ref()).await?;
    let Some(grant) = grant.filter(|g| family.grant_id.as_ref().is_none_or(|id| *id == g.grant_id)) else {
        s.store.revoke_family(&rec.family_id, now).await?;
        return Err(Error::invalid_grant("the user revoked this app's access"));
    };
    let family_scopes = scopes::parse(&family.scope)?;
    let scopes = refreshed_scopes(params.get("scope"), &family_scopes, &grant.scopes, &client.scopes)?;
    let issued = issue(
        s,
        issuer,
        Issue {
            client,
            user_id: &rec.user_id,
            scopes: &scopes,
            family_scope: family.scope.clone(),
            grant_id: family.grant_id.as_deref(),
            auth_time: family.auth_time,
            nonce: None,
            rotate_from: Some((&rec.family_id, &hash)),
            preset: None,
            jkt,
            sid: family.sid.as_deref(),
        },
    )
    .await?;
    match issued {
        Issued::Tokens(resp) => Ok(resp),
        Issued::Reused(fam) => Err(reuse_detected(s.db, client, &fam, Some(&rec.user_id)).await),
        Issued::Invalid => Err(Error::invalid_grant("the refresh token is invalid, expired or revoked")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn narrow_never_widen() {
        let fam = v("openid read:data write:data");
        assert_eq!(refreshed_scopes(None, &fam, &fam, &fam).unwrap(), fam);
        assert_eq!(refreshed_scopes(Some("read:data"), &fam, &fam, &fam).unwrap(), v("read:data"));
        assert!(matches!(refreshed_scopes(Some("read:billing"), &fam, &fam, &fam), Err(Error::InvalidScope(_))));
        // a scope the user no longer grants is dropped
        assert_eq!(refreshed_scopes(None, &fam, &v("openid read:data"), &fam).unwrap(), v("openid read:data"));
        assert!(refreshed_scopes(Some("write:data"), &fam, &v("openid read:data"), &fam).is_err());
        // so is a scope the client is no longer registered for
        assert_eq!(refreshed_scopes(None, &fam, &fam, &v("openid write:data")).unwrap(), v("openid write:data"));
        assert!(refreshed_scopes(Some("read:data"), &fam, &fam, &v("openid write:data")).is_err());
    }
}
