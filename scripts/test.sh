#!/usr/bin/env bash
# The one test command: installs PostgreSQL and Redis when they are missing,
# starts both on loopback (free ports below 32768, under a temporary
# directory), runs every test of the workspace against them, and stops them
# on exit — also when a test fails. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test.sh] %s\n' "$*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Browser tests: Debian's Chromium, driven by playwright-core from e2e/.
[ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
PGBIN="$(pg_bin)"
{ [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; } || need+=(postgresql)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  PGBIN="$(pg_bin)"
fi

# A free TCP port in 20000-32000 (below the ephemeral range, see facts.md).
free_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        s.close()
PY
}

if [ ! -d e2e/node_modules/playwright-core ]; then
  log "npm ci in e2e/"
  (cd e2e && npm ci --no-audit --no-fund --silent)
fi

TMP="$(mktemp -d /tmp/tessera-test.XXXXXX)"
chmod 755 "$TMP"
REDIS_PORT="$(free_port)"
PG_PORT="$(free_port)"
PGDATA="$TMP/pg"
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)

cleanup() {
  set +e
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  [ -f "$PGDATA/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

log "redis on 127.0.0.1:$REDIS_PORT"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --pidfile "$TMP/redis.pid" \
  --logfile "$TMP/redis.log" --dir "$TMP" --save '' --appendonly no
for _ in $(seq 1 50); do
  [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] && break
  sleep 0.1
done
[ "$(redis-cli -p "$REDIS_PORT" ping)" = "PONG" ]

log "postgresql on 127.0.0.1:$PG_PORT"
mkdir -p "$PGDATA" "$TMP/sock"
[ "$(id -u)" -eq 0 ] && chown postgres "$PGDATA" "$TMP/sock"
"${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; exit 1; }
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$TMP/sock/pg.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $TMP/sock -c fsync=off -c max_connections=300" start >/dev/null || { cat "$TMP/sock/pg.log"; exit 1; }
PGPASS="t$(python3 -c 'import secrets;print(secrets.token_hex(12))')"
"${AS_PG[@]}" psql -q -h "$TMP/sock" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE tessera LOGIN CREATEDB PASSWORD '$PGPASS'" -c "CREATE DATABASE tessera OWNER tessera" >/dev/null

export TESSERA_TEST_DATABASE_URL="postgres://tessera:$PGPASS@127.0.0.1:$PG_PORT/tessera"
export TESSERA_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
export TESSERA_TEST_PG_CTL="$PGBIN/pg_ctl"
export TESSERA_TEST_REDIS_PORT="$REDIS_PORT"

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
