//! The `tessera` command line: `serve`, `migrate`, and the admin commands,
//! one file per command group. Every command shares one setup (read the
//! configuration, connect, migrate) and one way of answering: human lines,
//! or JSON with `--json` (errors too, as `{"error": …}` on stderr, with a
//! non-zero exit).
mod audit;
mod client;
mod consent;
mod keys;
mod registration;
mod scope;
mod serve;
mod user;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use crate::db::Db;
use serde::Serialize;

use crate::app::Tessera;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::TokenStore;

#[derive(Parser, Debug)]
#[command(name = "tessera", version, about = "OAuth 2.0 / OpenID Connect authorization server")]
pub struct Cli {
    /// Print JSON (errors too, on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (TESSERA_BIND, default 127.0.0.1:8080)
    Serve {
        /// Worker threads (default: one per core)
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Exit 0 when the server on TESSERA_BIND answers /readyz with 200 (a container HEALTHCHECK; no curl needed)
    Healthcheck,
    /// Manage clients (registered apps)
    #[command(subcommand)]
    Client(client::ClientCmd),
    /// Manage signing keys
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Manage the scope catalogue
    #[command(subcommand)]
    Scope(scope::ScopeCmd),
    /// Manage users
    #[command(subcommand)]
    User(user::UserCmd),
    /// See and revoke users' grants (consents) to apps
    #[command(subcommand)]
    Grant(consent::GrantCmd),
    /// Read the audit trail
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Initial access tokens for apps that register themselves (RFC 7591)
    #[command(subcommand)]
    RegistrationToken(registration::RegistrationTokenCmd),
}

/// What every command starts from: the configuration, and on demand the
/// database (connected and migrated), the token store or the whole provider.
pub struct Setup {
    pub cfg: Config,
}

impl Setup {
    pub async fn db(&self) -> Result<Db> {
        let db = crate::db::connect(&self.cfg.database_url).await?;
        crate::db::migrate(&db).await?;
        Ok(db)
    }

    pub async fn db_and_store(&self) -> Result<(Db, Arc<dyn TokenStore>)> {
        let db = self.db().await?;
        let store = crate::store::open(self.cfg.redis.as_ref(), &self.cfg.redis_prefix, self.cfg.redis_ca_file.as_deref(), &db).await?;
        Ok((db, store))
    }

    /// The provider with its keys (for commands on signing keys), its
    /// database connections opened as the command needs them.
    pub async fn provider(self) -> Result<Arc<Tessera>> {
        Tessera::open(Config { db_pool: None, ..self.cfg }).await
    }
}

/// How a command answers: JSON, or lines for a person.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Print `v` as JSON, or as `human` makes it for a person.
    pub fn print<T: Serialize>(self, v: &T, human: impl FnOnce(&T) -> String) -> Result<()> {
        if self.json {
            let s = serde_json::to_string_pretty(v).map_err(|e| Error::Config(format!("JSON output: {e}")))?;
            println!("{s}");
        } else {
            println!("{}", human(v));
        }
        Ok(())
    }

    /// Report an error on stderr, as JSON under `--json`.
    pub fn error(self, e: &dyn std::fmt::Display) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "error": e.to_string() }));
        } else {
            eprintln!("error: {e}");
        }
    }
}

/// Split a list given as commas and/or spaces.
pub fn list_arg(s: &str) -> Vec<String> {
    s.split([',', ' ']).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// `3600`, `90m`, `24h`, `7d` in seconds.
pub fn duration_secs(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = n.parse().ok()?;
    Some(n * match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    })
}

/// Run a command; returns the process exit code (2: bad configuration, 1: the command failed).
pub fn run(cli: Cli) -> i32 {
    let out = Out { json: cli.json };
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            out.error(&e);
            return 2;
        }
    };
    let setup = Setup { cfg };
    let result = match cli.command {
        Command::Serve { workers } => serve::serve(setup.cfg, workers),
        Command::Healthcheck => serve::healthcheck(&setup.cfg),
        other => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(dispatch(setup, other, out)),
            Err(e) => Err(Error::Config(format!("cannot start the runtime: {e}"))),
        },
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            out.error(&e);
            1
        }
    }
}

async fn dispatch(setup: Setup, cmd: Command, out: Out) -> Result<()> {
    match cmd {
        Command::Serve { .. } | Command::Healthcheck => Err(Error::Config("serve and healthcheck run outside the command runtime".into())),
        Command::Migrate => {
            setup.db().await?;
            out.print(&serde_json::json!({"migrated": true}), |_| "migrations applied".into())
        }
        Command::Client(c) => client::run(setup, c, out).await,
        Command::Keys(k) => keys::run(setup, k, out).await,
        Command::Scope(s) => scope::run(setup, s, out).await,
        Command::User(u) => user::run(setup, u, out).await,
        Command::Grant(g) => consent::run(setup, g, out).await,
        Command::Audit(a) => audit::run(setup, a, out).await,
        Command::RegistrationToken(r) => registration::run(setup, r, out).await,
    }
}

/// Who the admin commands act as, in the audit trail.
pub const ACTOR: Option<&str> = Some("cli");

#[cfg(test)]
mod tests {
    #[test]
    fn grace_periods_read_as_people_write_them() {
        assert_eq!(super::duration_secs("0"), Some(0));
        assert_eq!(super::duration_secs("24h"), Some(86_400));
        assert_eq!(super::duration_secs("90m"), Some(5_400));
        assert_eq!(super::duration_secs("7d"), Some(604_800));
        assert_eq!(super::duration_secs("soon"), None);
    }
}
