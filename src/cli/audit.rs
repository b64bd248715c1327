//! `tessera audit list`: read the audit trail.
use clap::Subcommand;

use super::{Out, Setup};
use crate::error::{Error, Result};
use crate::http::pages::when;
use crate::registry::audit::{self, Filter, Record};

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// List audit events, newest first
    List {
        /// Unix seconds, RFC 3339, or an age such as 15m, 2h, 7d
        #[arg(long)]
        since: Option<String>,
        /// client id
        #[arg(long)]
        client: Option<String>,
        /// user id
        #[arg(long)]
        user: Option<String>,
        /// event name, such as client.created or refresh.reuse_detected
        #[arg(long)]
        event: Option<String>,
        /// at most this many events (at most 1000)
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

fn line(r: &Record) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "{}  {}  actor={}  client={}  user={}  ip={}  {}",
        when(Some(r.at)),
        r.event,
        dash(&r.actor),
        dash(&r.client_id),
        dash(&r.user_id),
        dash(&r.ip),
        r.detail
    )
}

pub async fn run(setup: Setup, cmd: AuditCmd, out: Out) -> Result<()> {
    let AuditCmd::List { since, client, user, event, limit } = cmd;
    let f = Filter::new(since.as_deref(), client, user, event, Some(limit)).map_err(Error::Validation)?;
    let db = setup.db().await?;
    out.print(&audit::list(&db, &f).await?, |v| v.iter().map(line).collect::<Vec<_>>().join("\n"))
}
