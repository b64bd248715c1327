#!/usr/bin/env bash
# The one test command: installs PostgreSQL, Redis, Chromium and Node when
# they are missing, starts PostgreSQL and Redis on loopback (free ports below
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

if [ ! -d e2e/node_modules/playwright-core ]; then
  log "npm ci in e2e/"
  (cd e2e && npm ci --no-audit --no-fund --silent)
fi

start_services
export TESSERA_TEST_DATABASE_URL="$DATABASE_URL_SVC"
export TESSERA_TEST_REDIS_URL="$REDIS_URL_SVC"
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
