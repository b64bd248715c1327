//! `tessera scope …`: the scope catalogue users consent to.
use clap::Subcommand;

use super::{Out, Setup};
use crate::error::Result;
use crate::oauth::registration;
use crate::registry::catalogue;

#[derive(Subcommand, Debug)]
pub enum ScopeCmd {
    /// List the scopes of the catalogue with their descriptions
    List,
    /// Add a scope with the description users read on the consent page
    Add {
        name: String,
        #[arg(long)]
        description: String,
        /// any app may get it through client_credentials without an admin's approval
        #[arg(long)]
        machine_open: bool,
    },
}

pub async fn run(setup: Setup, cmd: ScopeCmd, out: Out) -> Result<()> {
    let db = setup.db().await?;
    match cmd {
        ScopeCmd::List => {
            out.print(&catalogue::list(&db).await?, |v| v.iter().map(|s| format!("{}  {}", s.name, s.description)).collect::<Vec<_>>().join("\n"))
        }
        ScopeCmd::Add { name, description, machine_open } => {
            out.print(&registration::add_scope(&db, &name, &description, machine_open).await?, |s| format!("added {}", s.name))
        }
    }
}
