//! `tessera registration-token …`: initial access tokens for dynamic client
//! registration (RFC 7591 §3, `TESSERA_REGISTRATION=token`).
use clap::Subcommand;

use super::{duration_secs, Out, Setup, ACTOR};
use crate::error::{Error, Result};
use crate::registry::registration_tokens;

#[derive(Subcommand, Debug)]
pub enum RegistrationTokenCmd {
    /// Make a token that lets an app register itself at /register; shown once
    Create {
        /// how long it is good for: seconds, or 90m, 1h, 7d
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// how many registrations it allows
        #[arg(long, default_value_t = 1)]
        uses: i64,
    },
}

pub async fn run(setup: Setup, cmd: RegistrationTokenCmd, out: Out) -> Result<()> {
    let db = setup.db().await?;
    match cmd {
        RegistrationTokenCmd::Create { ttl, uses } => {
            let secs = duration_secs(&ttl).ok_or_else(|| Error::validation(format!("--ttl {ttl:?}: give seconds or an age like 1h, 90m, 7d")))?;
            let issued = registration_tokens::create(&db, secs, uses, ACTOR).await?;
            out.print(&issued, |i| {
                format!("{}\n(shown once; good for {} registration(s) until {})", i.token, i.uses, chrono::DateTime::from_timestamp(i.expires_at, 0).map(|d| d.to_rfc3339()).unwrap_or_default())
            })
        }
    }
}
