//! End to end in headless Chromium (Debian's package, driven by playwright-core
//! from `e2e/flow.mjs`): a developer registers an app in the portal, a user
//! authorizes it through login and consent, sees it under connected apps,
//! revokes it, and the app's refresh token is refused; a TV's device flow
//! (RFC 8628) approved on a phone; a developer's sign-up approved by an admin. Plus isolation between
//! developers, 403 on admin pages for non-admins, and CSRF refusal.
//! Screenshots land in `target/e2e-screenshots/`.
use std::process::Command;

use crate::support::{start, user, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_consent_connected_apps_in_chromium() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let e2e = root.join("e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `bash scripts/test.sh` (it runs `npm ci` in e2e/ and installs chromium)"
    );
    let s = start(Backend::PostgresRedis).await;
    user(&s.db, "dev1", "developer").await;
    user(&s.db, "dev2", "developer").await;
    user(&s.db, "alice", "user").await;
    user(&s.db, "root", "admin").await;
    let tv = crate::support::device_app(&s.db, &["device_code", "refresh_token"]).await;
    let tv_id = tv.clone();
    let shots = root.join("target/e2e-screenshots");
    let out = tokio::task::spawn_blocking({
        let base = s.base.clone();
        let shots = shots.clone();
        move || {
            Command::new("node")
                .arg(e2e.join("flow.mjs"))
                .current_dir(&e2e)
                .env("TESSERA_BASE", base)
                .env("TESSERA_PASSWORD", crate::support::PASSWORD)
                .env("TESSERA_DEV", "dev1")
                .env("TESSERA_OTHER_DEV", "dev2")
                .env("TESSERA_USER", "alice")
                .env("TESSERA_DEVICE_CLIENT", &tv_id)
                .env("TESSERA_ADMIN", "root")
                .env("TESSERA_SHOTS", &shots)
                .output()
                .expect("run node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser flow failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("e2e: all checks passed"));
    for shot in ["portal.png", "consent.png", "connected-apps.png", "device-consent.png", "signup.png", "portal-app.png"] {
        let meta = std::fs::metadata(shots.join(shot)).expect(shot);
        assert!(meta.len() > 5_000, "{shot} looks empty");
    }
    // what the browser did is in the database: the grant is gone, the app stays
    let apps = tessera::registry::clients::list(&s.db, None).await.unwrap();
    assert!(apps.iter().any(|c| c.name == "Acme Sync"));
    assert!(!apps.iter().any(|c| c.name == "Forged"));
    // the revoked app's grant is gone; the TV's is the only one
    assert_eq!(crate::support::count_rows(&s.db, "grants").await, 1);
    assert_eq!(crate::support::count_where(&s.db, "grants", &format!("client_id = '{tv}'")).await, 1);
}
