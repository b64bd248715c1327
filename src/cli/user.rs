//! `tessera user …`: accounts (passwords only ever from standard input).
use clap::Subcommand;

use super::{Out, Setup, ACTOR};
use crate::error::{Error, Result};
use crate::registry::{audit, users};

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
    },
    /// List every user
    List,
    /// A user's browser sessions
    #[command(subcommand)]
    Sessions(SessionsCmd),
    /// Disable an account: it cannot sign in, its sessions end and its tokens are revoked everywhere
    Disable {
        /// user id or username
        user: String,
    },
    /// Enable a disabled account again
    Enable {
        /// user id or username
        user: String,
    },
    /// Approve a developer sign-up (TESSERA_DEVELOPER_SIGNUP=approval): the account becomes a developer
    Approve {
        /// user id or username
        user: String,
    },
    /// Give an account a role: user, developer or admin
    SetRole {
        /// user id or username
        user: String,
        role: String,
    },
    /// Lift an account's login lock after repeated failed sign-ins
    Unlock {
        /// user id or username
        user: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionsCmd {
    /// Sign a user out everywhere: every session of theirs ends at once
    Revoke {
        /// user id or username
        user: String,
    },
}

pub async fn run(setup: Setup, cmd: UserCmd, out: Out) -> Result<()> {
    match cmd {
        UserCmd::Create { username, email, password_stdin: _, role } => {
            let db = setup.db().await?;
            let mut pw = String::new();
            std::io::stdin().read_line(&mut pw).map_err(|e| Error::validation(format!("cannot read the password from stdin: {e}")))?;
            let pw = pw.trim_end_matches(['\n', '\r']);
            let user = users::create(&db, &username, &email, pw, &role, ACTOR).await?;
            out.print(&user, |u| format!("created user {} ({}) id {}", u.username, u.role, u.user_id))
        }
        UserCmd::List => out.print(&users::list(&setup.db().await?).await?, |v| {
            v.iter().map(|u| format!("{}  {}  {}  {}", u.user_id, u.username, u.email, u.role)).collect::<Vec<_>>().join("\n")
        }),
        UserCmd::Disable { user } => set_disabled(setup, &user, true, out).await,
        UserCmd::Enable { user } => set_disabled(setup, &user, false, out).await,
        UserCmd::Approve { user } => {
            let (db, store) = setup.db_and_store().await?;
            let u = users::approve_developer(&db, store.as_ref(), &super::consent::resolve(&db, &user).await?, ACTOR).await?;
            out.print(&u, |u| format!("{} is a developer", u.username))
        }
        UserCmd::SetRole { user, role } => {
            let (db, store) = setup.db_and_store().await?;
            let u = users::set_role(&db, store.as_ref(), &super::consent::resolve(&db, &user).await?, &role, ACTOR).await?;
            out.print(&u, |u| format!("{} is {}", u.username, u.role))
        }
        UserCmd::Unlock { user } => {
            let (db, store) = setup.db_and_store().await?;
            let u = users::unlock(&db, store.as_ref(), &super::consent::resolve(&db, &user).await?, ACTOR).await?;
            out.print(&u, |u| format!("{} may sign in again", u.username))
        }
        UserCmd::Sessions(SessionsCmd::Revoke { user }) => {
            let t = setup.provider().await?;
            let uid = super::consent::resolve(&t.db, &user).await?;
            let (n, notices) = crate::oauth::logout::end_user_sessions(&t.db, t.store.as_ref(), &uid).await?;
            // The apps those sessions signed in to hear of it before the command ends.
            crate::oauth::logout::deliver(&t.db, &t.issuer, &t.outbound, notices).await;
            let db = &t.db;
            let detail = Some(serde_json::json!({"sessions": n}));
            audit::record(db, audit::Event { event: "user.sessions_revoked", actor: ACTOR, user_id: Some(&uid), detail, ..Default::default() }).await;
            out.print(&serde_json::json!({"user_id": uid, "sessions_ended": n}), |_| format!("{n} session(s) ended"))
        }
    }
}

async fn set_disabled(setup: Setup, user: &str, disabled: bool, out: Out) -> Result<()> {
    let t = setup.provider().await?;
    let uid = super::consent::resolve(&t.db, user).await?;
    let u = match disabled {
        true => {
            let (u, notices) = crate::oauth::logout::disable_user(&t.db, t.store.as_ref(), &uid, ACTOR).await?;
            crate::oauth::logout::deliver(&t.db, &t.issuer, &t.outbound, notices).await;
            u
        }
        false => users::set_disabled(&t.db, t.store.as_ref(), &uid, false, ACTOR).await?,
    };
    out.print(&u, |u| format!("{} is {}", u.username, if u.disabled { "disabled" } else { "enabled" }))
}
