//! The `tessera` binary's admin commands, run as a user would run them.
use std::process::Command;

use crate::both_backends;
use crate::support::{count_rows, start, Backend, TestServer};

both_backends!(client_lifecycle_through_the_cli, bad_registrations_write_nothing, a_secret_rotates_with_a_grace_period, a_client_changes_through_the_cli);

pub(crate) struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub(crate) fn tessera(s: &TestServer, args: &[&str]) -> Out {
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

pub(crate) fn json(o: &Out) -> serde_json::Value {
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
    let stored = tessera::registry::clients::get(&s.db, &id).await.unwrap();
    assert_ne!(stored.secret_hash.as_deref(), Some(secret.as_str()));
    assert_eq!(stored.secret_hash.unwrap(), tessera::crypto::digest(&secret));

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
        (&["--grant-types", "implicit", "--scopes", "read:data"], "RFC 9700"),
        (&["--grant-types", "magic", "--scopes", "read:data"], "unknown grant type"),
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

both_backends!(users_and_grants_through_the_cli);

fn tessera_stdin(s: &TestServer, args: &[&str], stdin: &str) -> Out {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .envs(s.tdb.env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tessera");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn users_and_grants_through_the_cli(b: Backend) {
    let s = start(b).await;
    let args = ["user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin", "--role", "developer", "--json"];
    let v = json(&tessera_stdin(&s, &args, &format!("{}\n", crate::support::PASSWORD)));
    assert_eq!(v["username"], "alice");
    assert_eq!(v["role"], "developer");
    assert!(v.get("password_hash").is_none());
    let uid = v["user_id"].as_str().unwrap().to_string();
    // the stored hash is argon2id, never the password
    assert_eq!(count_rows(&s.db, "users").await, 1);
    let dup = tessera_stdin(&s, &args, "another password\n");
    assert!(!dup.ok && dup.stderr.contains("taken"));
    let short = tessera_stdin(&s, &["user", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin"], "short\n");
    assert!(!short.ok && short.stderr.contains("at least 8"));
    assert_eq!(count_rows(&s.db, "users").await, 1, "refusals write nothing");
    let f = tessera::registry::audit::Filter { limit: 100, ..Default::default() };
    let created: Vec<_> = tessera::registry::audit::list(&s.db, &f).await.unwrap().into_iter().filter(|r| r.event == "user.created").collect();
    assert_eq!(created.len(), 1, "one row for the one user created");
    assert_eq!((created[0].user_id.as_deref(), created[0].actor.as_deref()), (Some(uid.as_str()), Some("cli")));

    // alice authorizes an app, then the admin revokes it from the CLI
    let (client, _) = crate::support::app(&s.db, "public", "openid read:data").await;
    let tok = s.tokens_for(&client, "alice", "read:data").await;
    let listed = json(&tessera(&s, &["grant", "list", "--user", "alice", "--json"]));
    assert_eq!(listed[0]["client_id"], client.as_str());
    assert_eq!(listed[0]["scopes"], serde_json::json!(["read:data"]));
    assert!(listed[0]["last_used_at"].as_i64().is_some());
    let revoked = json(&tessera(&s, &["grant", "revoke", "--user", &uid, "--client", &client, "--json"]));
    assert_eq!(revoked["tokens_revoked"], 1);
    let r = s.refresh(&client, tok["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(&tessera(&s, &["grant", "list", "--user", "alice", "--json"])), serde_json::json!([]));
    let again = tessera(&s, &["grant", "revoke", "--user", "alice", "--client", &client, "--json"]);
    assert!(!again.ok && again.stderr.contains("not found"));
}

/// What a person reads: no Rust debug formatting, errors as JSON under
/// `--json` (on stderr, with a failing exit status), a help line for every
/// command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_for_people_and_for_scripts() {
    let s = start(Backend::Embedded).await;
    let rotated = tessera(&s, &["keys", "rotate", "--force"]);
    assert!(rotated.ok, "{}", rotated.stderr);
    assert!(rotated.stdout.starts_with("current ") && rotated.stdout.contains(" retired "), "{}", rotated.stdout);
    for debug in ["Some(", "None", "\\\""] {
        assert!(!rotated.stdout.contains(debug), "debug formatting in {:?}", rotated.stdout);
    }
    let missing = tessera(&s, &["client", "show", "nope", "--json"]);
    assert!(!missing.ok);
    assert!(missing.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_str(missing.stderr.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", missing.stderr));
    assert!(err["error"].as_str().unwrap().contains("not found"), "{err}");
    let human = tessera(&s, &["client", "show", "nope"]);
    assert!(!human.ok && human.stderr.starts_with("error: client nope not found"), "{}", human.stderr);
    let bad_since = tessera(&s, &["audit", "list", "--since", "yesterday", "--json"]);
    assert!(!bad_since.ok);
    let err: serde_json::Value = serde_json::from_str(bad_since.stderr.trim()).unwrap();
    assert!(err["error"].as_str().unwrap().contains("since"), "{err}");

    // every command and subcommand says what it does in `--help`
    let top = tessera(&s, &["--help"]);
    let groups = ["client", "keys", "scope", "user", "grant", "audit", "registration-token"];
    for g in groups {
        assert!(top.stdout.lines().any(|l| l.trim_start().starts_with(g) && l.split_whitespace().count() > 1), "no help line for {g}");
        let help = tessera(&s, &[g, "--help"]);
        let commands: Vec<&str> = help.stdout.lines().skip_while(|l| !l.starts_with("Commands:")).skip(1).take_while(|l| l.starts_with("  ")).collect();
        assert!(!commands.is_empty(), "{g} --help lists its commands: {}", help.stdout);
        for line in commands {
            assert!(line.split_whitespace().count() > 1, "{g}: no help line for {line:?}");
        }
    }
}

/// Secrets have a shape scanners recognise; a rotation with a grace period
/// keeps the old secret working meanwhile (no outage for running
/// instances), one without ends it at once (a leak).
async fn a_secret_rotates_with_a_grace_period(b: Backend) {
    let s = start(b).await;
    let (id, first) = crate::support::machine_client(&s.db, "read:data").await;
    assert!(tessera::crypto::is_secret_shaped(&first), "{first}");
    let cc = [("grant_type", "client_credentials")];
    let rotated = json(&tessera(&s, &["client", "rotate-secret", &id, "--grace", "24h", "--json"]));
    let second = rotated["client_secret"].as_str().unwrap().to_string();
    assert!(tessera::crypto::is_secret_shaped(&second));
    assert!(rotated["previous_secret_expires_at"].as_i64().unwrap() > tessera::db::now() + 86_000);
    assert_eq!(s.post_basic("/token", &id, &first, &cc).await.status(), 200, "the old secret works through the grace period");
    assert_eq!(s.post_basic("/token", &id, &second, &cc).await.status(), 200);
    let cut = json(&tessera(&s, &["client", "rotate-secret", &id, "--grace", "0", "--json"]));
    let third = cut["client_secret"].as_str().unwrap();
    assert_eq!(s.post_basic("/token", &id, &first, &cc).await.status(), 401, "a rotation without grace ends every older secret");
    assert_eq!(s.post_basic("/token", &id, &second, &cc).await.status(), 401);
    assert_eq!(s.post_basic("/token", &id, third, &cc).await.status(), 200);
    let bad = tessera(&s, &["client", "rotate-secret", &id, "--grace", "soon"]);
    assert!(!bad.ok && bad.stderr.contains("--grace"), "{}", bad.stderr);
}

/// `client update`: only what is given changes; a bad value is refused with
/// a message and changes nothing.
async fn a_client_changes_through_the_cli(b: Backend) {
    let s = start(b).await;
    let (id, _) = crate::support::machine_client(&s.db, "read:data").await;
    let changed = json(&tessera(
        &s,
        &["client", "update", &id, "--name", "Nightly export", "--tier", "pro", "--rate-limit", "500", "--allowed-origins", "https://app.example.com", "--json"],
    ));
    assert_eq!(changed["name"], "Nightly export");
    assert_eq!((changed["tier"].as_str(), changed["rate_limit"].as_i64()), (Some("pro"), Some(500)));
    assert_eq!(changed["allowed_origins"], serde_json::json!(["https://app.example.com"]));
    assert_eq!(changed["scopes"], serde_json::json!(["read:data"]), "scopes not given stay");
    let bad = tessera(&s, &["client", "update", &id, "--allowed-origins", "https://app.example.com/path", "--tier", "free", "--json"]);
    assert!(!bad.ok && bad.stderr.contains("scheme://host[:port]"), "{}", bad.stderr);
    let bad = tessera(&s, &["client", "update", &id, "--tier", "gold"]);
    assert!(!bad.ok && bad.stderr.contains("tier"), "{}", bad.stderr);
    let shown = json(&tessera(&s, &["client", "show", &id, "--json"]));
    assert_eq!(shown["tier"], "pro", "nothing changed on a refusal");
    assert_eq!(shown["allowed_origins"], serde_json::json!(["https://app.example.com"]));
}

/// What the container image relies on: `keys init-kek` makes a KEK once
/// (0600, never over an existing one), `healthcheck` exits 0 only while
/// the server on TESSERA_BIND is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_kek_and_healthcheck() {
    let s = start(Backend::Embedded).await;
    let kek = s.tdb.dir.path().join("secrets/kek");
    let made = tessera(&s, &["keys", "init-kek", kek.to_str().unwrap(), "--json"]);
    assert!(made.ok, "{}", made.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kek).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&kek).unwrap();
    let again = tessera(&s, &["keys", "init-kek", kek.to_str().unwrap()]);
    assert!(!again.ok && again.stderr.contains("never overwritten"), "{}", again.stderr);
    assert_eq!(std::fs::read(&kek).unwrap(), before);

    let probe = |bind: String| {
        Command::new(env!("CARGO_BIN_EXE_tessera")).arg("healthcheck").envs(s.tdb.env()).env("TESSERA_BIND", bind).output().expect("run").status.success()
    };
    assert!(probe(format!("127.0.0.1:{}", s.port)), "the running server is ready");
    let closed = crate::support::free_port();
    assert!(!probe(format!("127.0.0.1:{closed}")), "nothing listens there");
}
