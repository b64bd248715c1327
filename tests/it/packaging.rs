//! The Dockerfile's build stage, checked without a container engine: the
//! files its `COPY` lines bring in must be a tree Cargo accepts (every
//! declared target present, the `tessera` bin among them) and hold every file the code embeds with
//! `include_str!`/`include_bytes!`. Both broke the image once unnoticed
//! (`benches/` and `static/` were not copied).
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sources of the `COPY` lines of the first stage (not `--from=`).
fn build_stage_copies(dockerfile: &str) -> Vec<String> {
    let mut stages = 0;
    let mut sources = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next().map(|w| w.to_ascii_uppercase()) {
            Some(w) if w == "FROM" => stages += 1,
            Some(w) if w == "COPY" && stages == 1 => {
                let args: Vec<&str> = words.filter(|a| !a.starts_with("--")).collect();
                if let Some((_dest, srcs)) = args.split_last() {
                    sources.extend(srcs.iter().map(|s| s.to_string()));
                }
            }
            _ => {}
        }
    }
    sources
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("dir entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Paths given to `include_str!("…")` / `include_bytes!("…")` in `.rs` files below `dir`, resolved.
fn embedded_files(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            embedded_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            for mac in ["include_str!(\"", "include_bytes!(\""] {
                for (at, _) in text.match_indices(mac) {
                    let rest = &text[at + mac.len()..];
                    let rel = &rest[..rest.find('"').expect("closing quote")];
                    out.push((path.clone(), path.parent().expect("parent").join(rel)));
                }
            }
        }
    }
}

#[test]
fn the_image_build_context_holds_everything_the_build_needs() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let sources = build_stage_copies(&dockerfile);
    assert!(sources.iter().any(|s| s == "src"), "the build stage copies src: {sources:?}");

    let ctx = tempfile::tempdir().expect("tempdir");
    for s in &sources {
        copy_tree(&root().join(s), &ctx.path().join(s));
    }

    // Cargo parses every manifest and target of the workspace before it looks
    // for the bin asked for: an unknown one answers with the list of bins,
    // a broken tree with the reason. Nothing is compiled.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["check", "--offline", "--locked", "--bin", "__probe__", "--manifest-path"])
        .arg(ctx.path().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", ctx.path().join("target"))
        .output()
        .expect("run cargo check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no bin target named `__probe__`") && stderr.contains("tessera"),
        "cargo rejects the image's build context: {stderr}"
    );

    let mut embedded = Vec::new();
    for s in &sources {
        let p = ctx.path().join(s);
        if p.is_dir() {
            embedded_files(&p, &mut embedded);
        }
    }
    assert!(!embedded.is_empty(), "the templates are embedded; the scan must find them");
    let missing: Vec<String> = embedded
        .iter()
        .filter(|(_, target)| !target.exists())
        .map(|(file, target)| format!("{} embeds {}", file.strip_prefix(ctx.path()).unwrap_or(file).display(), target.display()))
        .collect();
    assert!(missing.is_empty(), "not copied into the image's build stage: {missing:?}");
}

#[test]
fn copy_lines_of_the_build_stage_only() {
    let d = "FROM a AS build\nCOPY Cargo.toml Cargo.lock ./\ncopy --chown=1 src src\nFROM b\nCOPY --from=build /x /y\n";
    assert_eq!(build_stage_copies(d), vec!["Cargo.toml", "Cargo.lock", "src"]);
}

/// The image keeps its state in a volume: the runtime stage's working
/// directory, where the embedded database and the KEK are created.
#[test]
fn the_image_keeps_the_database_and_kek_in_a_volume() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let runtime = dockerfile.rsplit("\nFROM ").next().unwrap();
    let workdir = runtime.lines().find_map(|l| l.strip_prefix("WORKDIR ")).expect("a WORKDIR").trim();
    let volume = runtime.lines().find_map(|l| l.strip_prefix("VOLUME ")).expect("a VOLUME");
    assert!(volume.contains(&format!("\"{workdir}\"")), "VOLUME {volume} holds {workdir}");
    assert!(runtime.contains("TESSERA_BIND=0.0.0.0"), "the image binds every interface");
}

/// Bound to every interface, as in the image, without TESSERA_ISSUER: the
/// server refuses to start and says what to set (it used to advertise
/// http://127.0.0.1:8080 as its issuer).
#[test]
fn a_public_bind_without_an_issuer_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("TESSERA_ISSUER")
        .env("TESSERA_BIND", "0.0.0.0:0")
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()))
        .output()
        .expect("run tessera");
    assert_eq!(out.status.code(), Some(2), "a configuration error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TESSERA_ISSUER is required"), "{stderr}");
}

/// The variables the configuration reads (`src/config.rs`), and those
/// that may also come from a file (`NAME_FILE`).
fn config_vars() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(root().join("src/config.rs")).expect("config.rs");
    let quoted = |prefix: &str| -> Vec<String> {
        text.match_indices(prefix)
            .filter_map(|(at, _)| {
                let rest = &text[at + prefix.len()..];
                let name = &rest[..rest.find('"')?];
                (!name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')).then(|| name.to_string())
            })
            .collect()
    };
    let mut all = quoted("\"");
    all.retain(|n| n.starts_with("TESSERA_") || n.ends_with("_URL"));
    (all, quoted("secret_var(\""))
}

/// The keys of the `environment:` mapping in a YAML block.
fn environment_keys(block: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut inside: Option<usize> = None;
    for line in block.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with("environment:") {
            inside = Some(indent);
            continue;
        }
        match inside {
            Some(i) if indent > i && !line.trim().is_empty() => {
                if let Some((k, _)) = line.trim().split_once(':') {
                    keys.push(k.to_string());
                }
            }
            Some(_) if !line.trim().is_empty() => inside = None,
            _ => {}
        }
    }
    keys
}

/// Every variable the compose file and the Dockerfile set for Tessera is one
/// the code reads; every file they mount or build from exists; the Grafana
/// dashboard asks only for metrics `/metrics` serves.
#[test]
fn the_deployment_files_match_the_code() {
    let (vars, secret) = config_vars();
    assert!(vars.contains(&"TESSERA_ISSUER".to_string()) && secret.contains(&"DATABASE_URL".to_string()), "{vars:?} {secret:?}");
    let known = |name: &str| {
        name == "RUST_LOG"
            || vars.iter().any(|v| v == name)
            || name.strip_suffix("_FILE").is_some_and(|stem| secret.iter().any(|s| s == stem))
    };
    let compose = std::fs::read_to_string(root().join("deploy/compose.yaml")).expect("deploy/compose.yaml");
    let tessera_block = &compose[compose.find("x-tessera:").expect("x-tessera")..compose.find("\nservices:").expect("services")];
    let set = environment_keys(tessera_block);
    assert!(set.len() >= 8, "{set:?}");
    for name in &set {
        assert!(known(name), "deploy/compose.yaml sets {name}, which the code never reads");
    }
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    // the ENV instruction: its line and the continued ones (ending in a backslash)
    let mut env_line = String::new();
    for line in dockerfile[dockerfile.find("\nENV ").expect("ENV") + 1..].lines() {
        env_line.push_str(line.trim_end_matches('\\'));
        if !line.ends_with('\\') {
            break;
        }
    }
    for assignment in env_line.split_whitespace().filter(|w| w.contains('=')) {
        let name = assignment.split('=').next().unwrap();
        assert!(known(name), "the Dockerfile sets {name}, which the code never reads");
    }
    assert!(dockerfile.contains("VOLUME [\"/data\"]") && dockerfile.contains("\"healthcheck\""));
    // files: what the compose file mounts (secrets are the operator's to create)
    let deploy = root().join("deploy");
    for line in compose.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("- ./") {
            let local = rest.split(':').next().unwrap();
            assert!(deploy.join(local).exists(), "deploy/compose.yaml mounts ./{local}, which does not exist");
        }
    }
    assert!(deploy.join("../Dockerfile").exists());
    // the dashboard's metrics exist
    let dash: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(deploy.join("grafana/tessera.json")).unwrap()).expect("dashboard JSON");
    let metrics = std::fs::read_to_string(root().join("src/metrics.rs")).unwrap();
    let mut exprs = 0;
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let e = t["expr"].as_str().unwrap();
            exprs += 1;
            for name in e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("tessera_")) {
                let base = name.trim_end_matches("_bucket");
                assert!(metrics.contains(base), "the dashboard asks for {name}, which /metrics does not serve");
            }
        }
    }
    assert!(exprs >= 6);
}
