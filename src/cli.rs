//! The `tessera` command line: `serve`, and the admin commands that share
//! their code paths with the web portal and admin API.
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::app::Tessera;
use crate::clients::{self, NewClient};
use crate::config::Config;
use crate::error::{Error, Result};

#[derive(Parser, Debug)]
#[command(name = "tessera", version, about = "OAuth 2.0 / OpenID Connect authorization server")]
pub struct Cli {
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
    /// Manage clients (registered apps)
    #[command(subcommand)]
    Client(ClientCmd),
    /// Manage signing keys
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Manage the scope catalogue
    #[command(subcommand)]
    Scope(ScopeCmd),
    /// Manage users
    #[command(subcommand)]
    User(UserCmd),
    /// See and revoke users' grants (consents) to apps
    #[command(subcommand)]
    Grant(GrantCmd),
    /// Read the audit trail
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    List {
        /// Unix seconds, RFC 3339, or an age such as 15m, 2h, 7d
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        client: Option<String>,
        /// user id
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        event: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user; the password is read from standard input
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: never on the command line)
        #[arg(long, required = true)]
        password_stdin: bool,
        /// user, developer or admin
        #[arg(long, default_value = "user")]
        role: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum GrantCmd {
    /// The apps a user has granted access to
    List {
        /// user id or username
        #[arg(long)]
        user: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Revoke one user's grant to one client: consent, refresh tokens and live access tokens
    Revoke {
        #[arg(long)]
        user: String,
        #[arg(long)]
        client: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Args, Debug, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

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
        /// comma- or space-separated: authorization_code, refresh_token, client_credentials, password
        #[arg(long)]
        grant_types: String,
        /// space-separated scopes from the catalogue
        #[arg(long)]
        scopes: String,
        /// comma- or space-separated redirect URIs
        #[arg(long, default_value = "")]
        redirect_uris: String,
        #[arg(long)]
        owner: Option<String>,
        /// free, pro or enterprise
        #[arg(long)]
        tier: Option<String>,
        /// requests per minute (overrides the tier)
        #[arg(long)]
        rate_limit: Option<i64>,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    Show {
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Suspend {
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Activate {
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Replace the secret; the new one is printed once
    RotateSecret {
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Emergency: remove a (compromised) key from the JWKS now; a revoked current key is replaced at once
    Revoke {
        kid: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Re-encrypt every private key under a new key-encryption key (created 0600 if missing)
    Rewrap {
        #[arg(long)]
        new_kek_file: std::path::PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Promote the next key to current, retire the current one, create a new next
    Rotate {
        /// Rotate even if the next key was published too recently for cached JWKS
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScopeCmd {
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    Add {
        name: String,
        #[arg(long)]
        description: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// Split a list given as commas and/or spaces.
pub fn list_arg(s: &str) -> Vec<String> {
    s.split([',', ' ']).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

fn print<T: Serialize + std::fmt::Debug>(json: bool, v: &T, human: impl FnOnce(&T) -> String) {
    if json {
        match serde_json::to_string_pretty(v) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        println!("{}", human(v));
    }
}

fn client_line(c: &clients::Client) -> String {
    format!(
        "{}  {}  {}  {}  grants={}  scopes={}",
        c.client_id,
        c.name,
        c.client_type.as_str(),
        c.status,
        c.grant_types.join(","),
        c.scopes.join(" ")
    )
}

fn created_text(c: &clients::Created) -> String {
    let mut s = client_line(&c.client);
    if let Some(secret) = &c.client_secret {
        s.push_str(&format!("\nclient_secret: {secret}\n(shown once: store it now)"));
    }
    s
}

/// Run a command; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    let result = match cli.command {
        Command::Serve { workers } => serve(cfg, workers),
        other => rt.block_on(admin(cfg, other)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn serve(cfg: Config, workers: Option<usize>) -> Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = cfg.bind.clone();
        let t = Tessera::open(cfg).await?;
        let listen = |addr: &str| std::net::TcpListener::bind(addr).map_err(|e| Error::Config(format!("cannot bind {addr}: {e}")));
        let listener = listen(&bind)?;
        log::info!("Tessera listening on http://{bind} (issuer {})", t.cfg.issuer);
        let metrics = match t.cfg.metrics_bind.clone() {
            Some(addr) => {
                log::info!("metrics on http://{addr}/metrics only");
                Some(listen(&addr)?)
            }
            None => None,
        };
        actix_web::rt::spawn(Arc::clone(&t).background());
        crate::http::server(t, listener, metrics, workers)
            .map_err(|e| Error::Config(format!("server: {e}")))?
            .await
            .map_err(|e| Error::Config(format!("server: {e}")))
    })
}

async fn admin(cfg: Config, cmd: Command) -> Result<()> {
    let actor = Some("cli");
    match cmd {
        Command::Serve { .. } => unreachable!("handled by run"),
        Command::Migrate => {
            let db = crate::db::connect(&cfg.database_url).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Client(c) => {
            let db = crate::db::connect(&cfg.database_url).await?;
            crate::db::migrate(&db).await?;
            let store = crate::store::open(&cfg, &db).await?;
            match c {
                ClientCmd::Create {
                    name,
                    description,
                    client_type,
                    grant_types,
                    scopes,
                    redirect_uris,
                    owner,
                    tier,
                    rate_limit,
                    out,
                } => {
                    let n = NewClient {
                        name,
                        description,
                        client_type,
                        grant_types: list_arg(&grant_types),
                        scopes: list_arg(&scopes),
                        redirect_uris: list_arg(&redirect_uris),
                        owner_user_id: owner,
                        tier,
                        rate_limit,
                    };
                    let created = clients::create(&db, n, actor).await?;
                    print(out.json, &created, created_text);
                }
                ClientCmd::List { out } => {
                    let all = clients::list(&db, None).await?;
                    print(out.json, &all, |v| v.iter().map(client_line).collect::<Vec<_>>().join("\n"));
                }
                ClientCmd::Show { client_id, out } => {
                    let c = clients::get(&db, &client_id).await?;
                    print(out.json, &c, client_line);
                }
                ClientCmd::Suspend { client_id, out } => {
                    let c = clients::set_status(&db, store.as_ref(), &client_id, false, actor).await?;
                    print(out.json, &c, client_line);
                }
                ClientCmd::Activate { client_id, out } => {
                    let c = clients::set_status(&db, store.as_ref(), &client_id, true, actor).await?;
                    print(out.json, &c, client_line);
                }
                ClientCmd::RotateSecret { client_id, out } => {
                    let c = clients::rotate_secret(&db, store.as_ref(), &client_id, actor).await?;
                    print(out.json, &c, created_text);
                }
                ClientCmd::Delete { client_id, out } => {
                    clients::delete(&db, store.as_ref(), &client_id, actor).await?;
                    let v = serde_json::json!({"deleted": client_id});
                    print(out.json, &v, |_| format!("deleted {client_id}"));
                }
            }
        }
        Command::Keys(k) => {
            let t = Tessera::open(cfg).await?;
            match k {
                KeysCmd::List { out } => {
                    let keys = t.keys.list().await?;
                    print(out.json, &keys, |v| {
                        v.iter()
                            .map(|k| format!("{}  {}  {}  published={}", k.kid, k.alg, k.state, k.published))
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
                KeysCmd::Revoke { kid, out } => {
                    let r = t.keys.revoke(&kid).await?;
                    print(out.json, &r, |r| format!("revoked {}; now signing with {:?}", r.revoked, r.promoted));
                }
                KeysCmd::Rewrap { new_kek_file, out } => {
                    let new = crate::keys::Kek::load_or_create(&new_kek_file, true)?;
                    let n = t.keys.rewrap(&new).await?;
                    let v = serde_json::json!({"rewrapped": n, "kek_file": new_kek_file.display().to_string()});
                    print(out.json, &v, |_| {
                        format!("{n} keys re-encrypted. Set TESSERA_KEK_FILE={} (keep the old one as TESSERA_KEK_PREVIOUS_FILE until every instance restarted)", new_kek_file.display())
                    });
                }
                KeysCmd::Rotate { force, out } => {
                    let r = t.keys.rotate(force).await?;
                    print(out.json, &r, |r| format!("current {}  next {}  retired {:?}", r.current, r.next, r.retired));
                }
            }
        }
        Command::User(u) => {
            let db = crate::db::connect(&cfg.database_url).await?;
            crate::db::migrate(&db).await?;
            match u {
                UserCmd::Create { username, email, password_stdin: _, role, out } => {
                    let mut pw = String::new();
                    std::io::stdin()
                        .read_line(&mut pw)
                        .map_err(|e| Error::validation(format!("cannot read the password from stdin: {e}")))?;
                    let pw = pw.trim_end_matches(['\n', '\r']);
                    let user = crate::users::create(&db, &username, &email, pw, &role, Some("cli")).await?;
                    print(out.json, &user, |u| format!("created user {} ({}) id {}", u.username, u.role, u.user_id));
                }
                UserCmd::List { out } => {
                    let v = crate::users::list(&db).await?;
                    print(out.json, &v, |v| {
                        v.iter().map(|u| format!("{}  {}  {}  {}", u.user_id, u.username, u.email, u.role)).collect::<Vec<_>>().join("\n")
                    });
                }
            }
        }
        Command::Grant(g) => {
            let t = Tessera::open(cfg).await?;
            let resolve = |user: String| {
                let db = t.db.clone();
                async move {
                    if let Some(u) = crate::users::find_by_username(&db, &user).await? {
                        return Ok::<String, Error>(u.user_id);
                    }
                    crate::users::get(&db, &user).await?.map(|u| u.user_id).ok_or_else(|| Error::NotFound(format!("user {user}")))
                }
            };
            match g {
                GrantCmd::List { user, out } => {
                    let uid = resolve(user).await?;
                    let v = crate::grants::list_for_user(&t.db, &uid).await?;
                    print(out.json, &v, |v| {
                        v.iter()
                            .map(|a| format!("{}  {}  scopes={}  last_used={:?}", a.grant.client_id, a.client_name, a.grant.scopes.join(" "), a.grant.last_used_at))
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
                GrantCmd::Revoke { user, client, out } => {
                    let uid = resolve(user).await?;
                    let n = crate::grants::revoke(&t.db, t.store.as_ref(), &uid, &client, actor, None).await?;
                    let v = serde_json::json!({"user_id": uid, "client_id": client, "tokens_revoked": n});
                    print(out.json, &v, |_| format!("revoked; {n} refresh token(s) and their access tokens"));
                }
            }
        }
        Command::Audit(AuditCmd::List { since, client, user, event, limit, out }) => {
            let db = crate::db::connect(&cfg.database_url).await?;
            crate::db::migrate(&db).await?;
            let since = match since {
                Some(s) => Some(
                    crate::audit::parse_since(&s, crate::db::now())
                        .ok_or_else(|| Error::validation(format!("--since {s:?}: give Unix seconds, RFC 3339 or an age like 2h")))?,
                ),
                None => None,
            };
            let f = crate::audit::Filter { since, client_id: client, user_id: user, event, limit };
            let v = crate::audit::list(&db, &f).await?;
            print(out.json, &v, |v| {
                v.iter()
                    .map(|r| {
                        format!(
                            "{}  {}  actor={}  client={}  user={}  ip={}  {}",
                            crate::http::pages::when(Some(r.at)),
                            r.event,
                            r.actor.as_deref().unwrap_or("-"),
                            r.client_id.as_deref().unwrap_or("-"),
                            r.user_id.as_deref().unwrap_or("-"),
                            r.ip.as_deref().unwrap_or("-"),
                            r.detail
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Scope(s) => {
            let db = crate::db::connect(&cfg.database_url).await?;
            crate::db::migrate(&db).await?;
            match s {
                ScopeCmd::List { out } => {
                    let v = crate::catalogue::list(&db).await?;
                    print(out.json, &v, |v| v.iter().map(|s| format!("{}  {}", s.name, s.description)).collect::<Vec<_>>().join("\n"));
                }
                ScopeCmd::Add { name, description, out } => {
                    let v = crate::catalogue::add(&db, &name, &description).await?;
                    print(out.json, &v, |s| format!("added {}", s.name));
                }
            }
        }
    }
    Ok(())
}
