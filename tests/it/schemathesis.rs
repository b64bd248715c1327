//! The OpenAPI document of the JSON endpoints (docs/openapi.yaml), run
//! through schemathesis (PyPI) for a bounded number of generated cases:
//! no server error, and every answer's status, content type and body as
//! documented.
use std::process::Command;

use crate::support::{machine_client, start, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_holds_under_generated_requests() {
    let s = start(Backend::PostgresRedis).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-m", "schemathesis.cli", "run", &spec.display().to_string(), "--url", &base, "-n", "25", "--seed", "7", "-w", "1"])
            .args(["--auth", &format!("{id}:{secret}")])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            .env("NO_COLOR", "1")
            // keep schemathesis' cache out of the source tree
            .current_dir(std::env::temp_dir())
            .output()
            .expect("python3 with schemathesis (installed by scripts/test.sh)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("passed") && stdout.contains("generated"), "{stdout}");
}
