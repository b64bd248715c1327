//! `tessera user …`: accounts (passwords only ever from standard input).
use clap::Subcommand;

use super::{Out, Setup, ACTOR};
use crate::error::{Error, Result};
use crate::registry::users;

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
}

pub async fn run(setup: Setup, cmd: UserCmd, out: Out) -> Result<()> {
    let db = setup.db().await?;
    match cmd {
        UserCmd::Create { username, email, password_stdin: _, role } => {
            let mut pw = String::new();
            std::io::stdin().read_line(&mut pw).map_err(|e| Error::validation(format!("cannot read the password from stdin: {e}")))?;
            let pw = pw.trim_end_matches(['\n', '\r']);
            let user = users::create(&db, &username, &email, pw, &role, ACTOR).await?;
            out.print(&user, |u| format!("created user {} ({}) id {}", u.username, u.role, u.user_id))
        }
        UserCmd::List => out.print(&users::list(&db).await?, |v| {
            v.iter().map(|u| format!("{}  {}  {}  {}", u.user_id, u.username, u.email, u.role)).collect::<Vec<_>>().join("\n")
        }),
    }
}
