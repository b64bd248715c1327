//! `tessera keys …`: the signing keys' lifecycle (docs/key-rotation.md).
use clap::Subcommand;

use super::{Out, Setup};
use crate::error::Result;
use crate::keys::Kek;

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// List the signing keys with their state and whether the JWKS publishes them
    List,
    /// Emergency: remove a (compromised) key from the JWKS now; a revoked current key is replaced at once
    Revoke { kid: String },
    /// Re-encrypt every private key under a new key-encryption key (created 0600 if missing)
    Rewrap {
        #[arg(long)]
        new_kek_file: std::path::PathBuf,
    },
    /// Make a new key-encryption key file (mode 0600) for TESSERA_KEK_FILE; refuses to overwrite one
    InitKek { file: std::path::PathBuf },
    /// Promote the next key to current, retire the current one, create a new next
    Rotate {
        /// Rotate even if the next key was published too recently for cached JWKS
        #[arg(long)]
        force: bool,
    },
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

pub async fn run(setup: Setup, cmd: KeysCmd, out: Out) -> Result<()> {
    if let KeysCmd::InitKek { file } = &cmd {
        Kek::create_new(file)?;
        let f = file.display().to_string();
        return out.print(&serde_json::json!({"kek_file": f}), |_| format!("created {f} (mode 0600): set TESSERA_KEK_FILE={f} and back it up with the database"));
    }
    let t = setup.provider().await?;
    match cmd {
        KeysCmd::InitKek { .. } => Ok(()),
        KeysCmd::List => out.print(&t.keys.list().await?, |v| {
            v.iter().map(|k| format!("{}  {}  {}  published={}", k.kid, k.alg, k.state, k.published)).collect::<Vec<_>>().join("\n")
        }),
        KeysCmd::Revoke { kid } => {
            let r = t.keys.revoke(&kid).await?;
            out.print(&r, |r| match &r.promoted {
                Some(p) => format!("revoked {}; now signing with {p}", r.revoked),
                None => format!("revoked {}; the signing key is unchanged", r.revoked),
            })
        }
        KeysCmd::Rewrap { new_kek_file } => {
            let n = t.keys.rewrap(&Kek::load_or_create(&new_kek_file, true)?).await?;
            let file = new_kek_file.display().to_string();
            out.print(&serde_json::json!({"rewrapped": n, "kek_file": file}), |_| {
                format!("{n} keys re-encrypted. Set TESSERA_KEK_FILE={file} (keep the old one as TESSERA_KEK_PREVIOUS_FILE until every instance restarted)")
            })
        }
        KeysCmd::Rotate { force } => {
            let r = t.keys.rotate(force).await?;
            out.print(&r, |r| format!("current {}  next {}  retired {}", r.current, r.next, or_none(&r.retired)))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn absent_keys_read_as_none() {
        assert_eq!(super::or_none(&None), "none");
        assert_eq!(super::or_none(&Some("k1".into())), "k1");
    }
}
