//! `tessera client …`: register and manage clients (the same functions as
//! the portal and the admin API).
use clap::Subcommand;

use super::{duration_secs, list_arg, Out, Setup, ACTOR};
use crate::error::{Error, Result};
use crate::oauth::registration;
use crate::registry::clients::{self, Change, Client, Created, NewClient, StatusChange};

#[derive(Subcommand, Debug)]
pub enum ClientCmd {
    /// Register a client; a confidential client's secret is printed once
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// confidential or public
        #[arg(long = "type", default_value = "confidential")]
        client_type: String,
        /// comma- or space-separated: authorization_code, refresh_token, client_credentials, password, device_code (RFC 8628)
        #[arg(long)]
        grant_types: String,
        /// space-separated scopes from the catalogue
        #[arg(long)]
        scopes: String,
        /// comma- or space-separated redirect URIs
        #[arg(long, default_value = "")]
        redirect_uris: String,
        /// comma- or space-separated browser origins of a single-page app (CORS), e.g. https://app.example.com
        #[arg(long, default_value = "")]
        allowed_origins: String,
        /// user id of the owning developer
        #[arg(long)]
        owner: Option<String>,
        /// free, pro or enterprise
        #[arg(long)]
        tier: Option<String>,
        /// requests per minute (overrides the tier)
        #[arg(long)]
        rate_limit: Option<i64>,
        /// may introspect tokens issued to other clients (a resource server)
        #[arg(long)]
        can_introspect: bool,
        /// a legacy confidential client that cannot send PKCE (RFC 9700 advises against)
        #[arg(long)]
        pkce_optional: bool,
        /// its authorization requests must be pushed first (RFC 9126, POST /par)
        #[arg(long)]
        require_par: bool,
        /// where RP-initiated logout may send the browser back (comma- or space-separated, exact match)
        #[arg(long, default_value = "")]
        post_logout_redirect_uris: String,
        /// where logout tokens are POSTed when a session that signed in to this app ends (Back-Channel Logout 1.0)
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// hold it to a security profile: fapi2 (FAPI 2.0: PAR, PKCE, private_key_jwt, DPoP, 60 s codes)
        #[arg(long)]
        profile: Option<String>,
        /// its access tokens are always DPoP-bound: token requests without a DPoP proof are refused (RFC 9449)
        #[arg(long)]
        require_dpop: bool,
        /// private_key_jwt: authenticate with signed assertions (RFC 7523) instead of a secret
        #[arg(long)]
        auth_method: Option<String>,
        /// the client's public keys, a JWK Set file (private_key_jwt)
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks_file: Option<std::path::PathBuf>,
        /// where the client publishes its public keys (private_key_jwt)
        #[arg(long)]
        jwks_uri: Option<String>,
    },
    /// Approve a self-registered app's machine access (client_credentials with scopes not open to machines)
    Approve { client_id: String },
    /// Change a client: only what is given changes (lists are replaced whole); narrowing the scopes narrows users' consents
    Update {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// comma- or space-separated redirect URIs
        #[arg(long)]
        redirect_uris: Option<String>,
        /// comma- or space-separated browser origins (CORS)
        #[arg(long)]
        allowed_origins: Option<String>,
        /// space-separated scopes from the catalogue
        #[arg(long)]
        scopes: Option<String>,
        /// free, pro or enterprise
        #[arg(long)]
        tier: Option<String>,
        /// requests per minute (overrides the tier)
        #[arg(long)]
        rate_limit: Option<i64>,
    },
    /// List every client
    List,
    /// Show one client
    Show { client_id: String },
    /// Suspend a client as an admin: its tokens stop working at once, and only an admin reactivates it
    Suspend {
        client_id: String,
        /// why, shown to the app's developer
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reactivate a suspended client (also one an admin suspended)
    Activate { client_id: String },
    /// Replace the secret; the new one is printed once
    RotateSecret {
        client_id: String,
        /// how long the old secret keeps working, so running instances can move over: 24h, 90m, 0 (default: it stops now)
        #[arg(long, default_value = "0")]
        grace: String,
    },
    /// Delete a client with its consents and tokens
    Delete { client_id: String },
}


fn line(c: &Client) -> String {
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    let pending = if c.machine_pending { "  machine access pending approval" } else { "" };
    format!("{}  {}  {}  {}  grants={}  scopes={}{pending}", c.client_id, c.name, c.client_type.as_str(), c.status, grants.join(","), c.scopes.join(" "))
}

fn created(c: &Created) -> String {
    let mut s = line(&c.client);
    if let Some(until) = c.client.previous_secret_expires_at {
        s.push_str(&format!("\nthe previous secret works until {}", crate::http::pages::when(Some(until))));
    }
    if let Some(secret) = &c.client_secret {
        s.push_str(&format!("\nclient_secret: {secret}\n(shown once: store it now)"));
    }
    s
}

pub async fn run(setup: Setup, cmd: ClientCmd, out: Out) -> Result<()> {
    let (db, store) = setup.db_and_store().await?;
    let store = store.as_ref();
    match cmd {
        ClientCmd::Create { name, description, client_type, grant_types, scopes, redirect_uris, allowed_origins, owner, tier, rate_limit, can_introspect, pkce_optional, require_par, auth_method, jwks_file, jwks_uri, require_dpop, post_logout_redirect_uris, backchannel_logout_uri, profile } => {
            let jwks = match jwks_file {
                Some(f) => Some(std::fs::read_to_string(&f).map_err(|e| Error::validation(format!("--jwks-file {}: {e}", f.display())))?),
                None => None,
            };
            let n = NewClient {
                name,
                description,
                client_type,
                grant_types: list_arg(&grant_types),
                scopes: list_arg(&scopes),
                redirect_uris: list_arg(&redirect_uris),
                allowed_origins: list_arg(&allowed_origins),
                owner_user_id: owner,
                tier,
                rate_limit,
                can_introspect,
                pkce_optional,
                machine_pending: false,
                require_par,
                auth_method,
                jwks,
                jwks_uri,
                require_dpop,
                post_logout_redirect_uris: list_arg(&post_logout_redirect_uris),
                backchannel_logout_uri,
                profile,
                ..Default::default()
            };
            out.print(&registration::register(&db, n, ACTOR).await?, created)
        }
        ClientCmd::Approve { client_id } => out.print(&clients::set_machine_pending(&db, store, &client_id, false, ACTOR).await?, line),
        ClientCmd::Update { client_id, name, description, redirect_uris, allowed_origins, scopes, tier, rate_limit } => {
            let c = clients::get(&db, &client_id).await?;
            let keep = Change::keeping(&c);
            let change = Change {
                redirect_uris: redirect_uris.map(|v| list_arg(&v)).unwrap_or(keep.redirect_uris),
                allowed_origins: allowed_origins.map(|v| list_arg(&v)).unwrap_or(keep.allowed_origins),
                scopes: scopes.map(|v| list_arg(&v)).unwrap_or(keep.scopes),
                name,
                description,
                tier,
                rate_limit,
            };
            out.print(&registration::update(&db, store, &client_id, change, ACTOR).await?, line)
        }
        ClientCmd::List => out.print(&clients::list(&db, None).await?, |v| v.iter().map(line).collect::<Vec<_>>().join("\n")),
        ClientCmd::Show { client_id } => out.print(&clients::get(&db, &client_id).await?, line),
        ClientCmd::Suspend { client_id, reason } => {
            out.print(&clients::set_status(&db, store, &client_id, StatusChange::Hold { reason: &reason }, ACTOR).await?, line)
        }
        ClientCmd::Activate { client_id } => out.print(&clients::set_status(&db, store, &client_id, StatusChange::Release, ACTOR).await?, line),
        ClientCmd::RotateSecret { client_id, grace } => {
            let grace = duration_secs(&grace).ok_or_else(|| Error::validation(format!("--grace {grace:?}: give seconds or an age like 24h, 90m, 7d")))?;
            out.print(&clients::rotate_secret(&db, store, &client_id, grace, ACTOR).await?, created)
        }
        ClientCmd::Delete { client_id } => {
            clients::delete(&db, store, &client_id, ACTOR).await?;
            out.print(&serde_json::json!({"deleted": client_id}), |_| format!("deleted {client_id}"))
        }
    }
}
