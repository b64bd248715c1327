//! The `tessera` binary's admin commands, run as a user would run them.
use std::process::Command;

use crate::both_backends;
use crate::support::{count_rows, start, Backend, TestServer};

both_backends!(client_lifecycle_through_the_cli, bad_registrations_write_nothing);

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn tessera(s: &TestServer, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .envs(s.tdb.env())
        .output()
        .expect("run tessera");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(o: &Out) -> serde_json::Value {
    assert!(o.ok, "command failed: {}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", o.stdout))
}

async fn client_lifecycle_through_the_cli(b: Backend) {
    let s = start(b).await;
    let created = json(&tessera(
        &s,
        &[
            "client", "create", "--name", "Zapier", "--type", "confidential", "--grant-types", "client_credentials",
            "--scopes", "read:data write:data", "--json",
        ],
    ));
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert_eq!(created["scopes"], serde_json::json!(["read:data", "write:data"]));
    assert!(created.get("secret_hash").is_none());
    // the secret is stored only as a hash
    let stored = tessera::clients::get(&s.db, &id).await.unwrap();
    assert_ne!(stored.secret_hash.as_deref(), Some(secret.as_str()));
    assert_eq!(stored.secret_hash.unwrap(), tessera::oauth::client_auth::hash_secret(&secret));

    // the server accepts it at once
    let token = s.client_credentials(&id, &secret, Some("write:data")).await;
    assert!(!token.is_empty());

    let shown = json(&tessera(&s, &["client", "show", &id, "--json"]));
    assert_eq!(shown["name"], "Zapier");
    assert!(shown.get("client_secret").is_none(), "the secret is shown once only");
    let listed = json(&tessera(&s, &["client", "list", "--json"]));
    assert!(listed.as_array().unwrap().iter().any(|c| c["client_id"] == id.as_str()));

    assert_eq!(json(&tessera(&s, &["client", "suspend", &id, "--json"]))["status"], "suspended");
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(json(&tessera(&s, &["client", "activate", &id, "--json"]))["status"], "active");

    let rotated = json(&tessera(&s, &["client", "rotate-secret", &id, "--json"]));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let r = s.post_basic("/token", &id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 401, "the old secret stops working at once");
    s.client_credentials(&id, new_secret, None).await;

    let keys = json(&tessera(&s, &["keys", "list", "--json"]));
    assert_eq!(keys.as_array().unwrap().len(), 2);

    assert_eq!(json(&tessera(&s, &["client", "delete", &id, "--json"]))["deleted"], id.as_str());
    let gone = tessera(&s, &["client", "show", &id, "--json"]);
    assert!(!gone.ok && gone.stderr.contains("not found"));
    let r = s.post_basic("/token", &id, new_secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 401);

    // audit trail of the above
    // audit trail of the above: created, suspended, activated, secret rotated, deleted
    assert_eq!(crate::support::count_rows(&s.db, "audit_events").await, 5);
}

async fn bad_registrations_write_nothing(b: Backend) {
    let s = start(b).await;
    let before = count_rows(&s.db, "clients").await;
    let cases: &[(&[&str], &str)] = &[
        (&["--grant-types", "client_credentials", "--scopes", "read:data launch:missiles"], "unknown scope"),
        (&["--grant-types", "implicit", "--scopes", "read:data"], "unknown grant type"),
        (
            &["--grant-types", "authorization_code", "--scopes", "read:data", "--redirect-uris", "http://app.example.com/cb"],
            "https",
        ),
        (
            &["--grant-types", "authorization_code", "--scopes", "read:data", "--redirect-uris", "https://app.example.com/cb#frag"],
            "fragment",
        ),
        (
            &["--grant-types", "authorization_code", "--scopes", "read:data", "--redirect-uris", "https://*.example.com/cb"],
            "wildcard",
        ),
        (&["--type", "public", "--grant-types", "client_credentials", "--scopes", "read:data"], "public client"),
        (&["--type", "sometimes", "--grant-types", "client_credentials", "--scopes", "read:data"], "client type"),
    ];
    for (args, needle) in cases {
        let mut full = vec!["client", "create", "--name", "Bad", "--json"];
        full.extend_from_slice(args);
        let o = tessera(&s, &full);
        assert!(!o.ok, "{args:?} must fail");
        assert!(o.stderr.contains(needle), "{args:?}: {} should mention {needle}", o.stderr);
        assert!(o.stdout.trim().is_empty(), "nothing printed on stdout on failure");
    }
    // loopback http is allowed for native apps
    let ok = tessera(
        &s,
        &[
            "client", "create", "--name", "Native", "--type", "public", "--grant-types", "authorization_code",
            "--scopes", "read:data", "--redirect-uris", "http://127.0.0.1:8765/cb", "--json",
        ],
    );
    let v = json(&ok);
    assert!(v.get("client_secret").is_none(), "public clients get no secret");
    assert_eq!(count_rows(&s.db, "clients").await, before + 1);
}
