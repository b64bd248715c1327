//! The OpenAPI document of the JSON endpoints (docs/openapi.yaml), run
//! through schemathesis (PyPI) for a bounded number of generated cases:
//! no server error, and every answer's status, content type and body as
//! documented. Three runs, each as the caller its endpoints expect: the
//! OAuth endpoints as a client (HTTP Basic), the admin API with an admin's
//! bearer token, the account API as a signed-in user (session cookie and
//! its CSRF header).
use std::process::Command;

use crate::support::{captured_logs, count_rows, hidden, machine_client, start_with, user, Backend, TestDb, TestServer, PASSWORD};

/// Run schemathesis over the operations whose path matches `paths` with
/// `auth` arguments; its report, asserted clean.
async fn run(s: &TestServer, paths: &str, exclude: bool, auth: Vec<String>) -> String {
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let base = s.base.clone();
    let filter = if exclude { "--exclude-path-regex" } else { "--include-path-regex" };
    let pattern = paths.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-m", "schemathesis.cli", "run", &spec.display().to_string(), "--url", &base, "-n", "25", "--seed", "7", "-w", "1"])
            .args([filter, &pattern])
            .args(auth)
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            .env("NO_COLOR", "1")
            // keep schemathesis' cache out of the source tree
            .current_dir(std::env::temp_dir())
            .output()
            .expect("python3 with schemathesis (installed by scripts/test.sh)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "schemathesis found problems ({paths}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("passed") && stdout.contains("generated"), "{stdout}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_holds_under_generated_requests() {
    let s = start_with(TestDb::new(Backend::PostgresRedis).await, |c| c.rate.free = 1_000_000).await;
    let (id, secret) = machine_client(&s.db, "read:data").await;
    run(&s, "^/(admin|account)/", true, vec!["--auth".into(), format!("{id}:{secret}")]).await;

    // the admin API, with an admin's token
    let (admin, admin_secret) = machine_client(&s.db, "tessera:admin").await;
    let token = s.client_credentials(&admin, &admin_secret, Some("tessera:admin")).await;
    let bearer = vec!["-H".to_string(), format!("Authorization: Bearer {token}")];
    // key rotation last: forced rotations retire the key that signed the token
    let report = run(&s, "^/admin/api/(?!keys/rotate)", false, bearer.clone()).await;
    assert!(report.contains("/admin/api/clients"), "{report}");
    assert!(count_rows(&s.db, "registration_tokens").await > 0, "generated requests got through: initial access tokens were made");
    run(&s, "^/admin/api/keys/rotate$", false, bearer).await;

    // the account API, signed in
    user(&s.db, "alice", "user").await;
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = b.get(s.url("/login")).send().await.unwrap();
    let anonymous = session_cookie(&r);
    let html = r.text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("authz", String::new()), ("username", "alice".into()), ("password", PASSWORD.into())];
    let r = b.post(s.url("/login")).header("cookie", &anonymous).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    let account = b.get(s.url("/account")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let listed = || captured_logs().iter().filter(|l| l.contains("GET /account/api/grants 200 ")).count();
    let listed_before = listed();
    let report = run(&s, "^/account/api/", false, vec!["-H".into(), format!("Cookie: {cookie}"), "-H".into(), format!("X-CSRF-Token: {}", hidden(&account, "csrf"))]).await;
    assert!(report.contains("/account/api/grants"), "{report}");
    // (the log is the process's: other tests add a few such lines at most)
    assert!(listed() >= listed_before + 10, "generated requests got through as alice");
}

fn session_cookie(r: &reqwest::Response) -> String {
    r.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().split(';').next().unwrap().to_string()
}
