# Sourced by scripts/test.sh and scripts/bench.sh: install what is missing,
# start PostgreSQL and Redis on loopback under a temporary directory, stop
# them on exit. Ports are picked below 32768 (the ephemeral range above it
# collides with outgoing connections, see docs/testing.md).

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

# install_missing PKG... : apt-get install the Debian packages given (once).
install_missing() {
  [ "$#" -gt 0 ] || return 0
  log "installing $*"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A free TCP port in 20000-32000.
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

# A port for a Redis Cluster node: its cluster bus listens on port + 10000,
# so both must be free and below 32768.
free_cluster_port() {
  python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    p = random.randint(20000, 22767)
    if free(p) and free(p + 10000):
        print(p); break
PY
}

# start_redis_cluster DIR N_PRIMARIES : N primaries and one replica each on
# loopback, formed into a cluster; sets CLUSTER_PORTS and REDIS_CLUSTER_URLS_SVC.
start_redis_cluster() {
  local dir="$1" n="$2" port urls=() nodes=()
  CLUSTER_PORTS=()
  for _ in $(seq 1 $((2 * n))); do
    port="$(free_cluster_port)"
    mkdir -p "$dir/$port"
    redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
      --cluster-node-timeout 2000 --dir "$dir/$port" --save '' --appendonly no --lazyfree-lazy-expire yes --daemonize yes \
      --pidfile "$dir/$port/pid" --logfile "$dir/$port/log"
    CLUSTER_PORTS+=("$port")
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    for _ in $(seq 1 50); do
      [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ] && break
      sleep 0.1
    done
    nodes+=("127.0.0.1:$port")
    urls+=("redis://127.0.0.1:$port/")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log"; return 1; }
  for _ in $(seq 1 100); do
    [[ "$(redis-cli -p "${CLUSTER_PORTS[0]}" cluster info)" == *cluster_state:ok* ]] && break
    sleep 0.1
  done
  [[ "$(redis-cli -p "${CLUSTER_PORTS[0]}" cluster info)" == *cluster_state:ok* ]]
  REDIS_CLUSTER_URLS_SVC="$(IFS=,; echo "${urls[*]}")"
}

stop_services() {
  set +e
  [ -n "${REDIS_PORT:-}" ] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  for port in ${CLUSTER_PORTS[@]+"${CLUSTER_PORTS[@]}"}; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1; done
  [ -n "${PGDATA:-}" ] && [ -f "$PGDATA/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# start_services: sets TMP, REDIS_PORT, PG_PORT, DATABASE_URL_SVC,
# REDIS_URL_SVC and (three primaries, three replicas) REDIS_CLUSTER_URLS_SVC.
# With STORES_CPU set (the benchmarks: 1), Redis and PostgreSQL run on that
# core only, as on machines of their own, beside the load and away from
# the server's core.
start_services() {
  local PIN=()
  [ -n "${STORES_CPU:-}" ] && PIN=(taskset -c "$STORES_CPU")
  PGBIN="$(pg_bin)"
  TMP="$(mktemp -d /tmp/tessera-svc.XXXXXX)"
  chmod 755 "$TMP"
  REDIS_PORT="$(free_port)"
  PG_PORT="$(free_port)"
  PGDATA="$TMP/pg"
  AS_PG=()
  [ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)
  trap stop_services EXIT INT TERM

  log "redis on 127.0.0.1:$REDIS_PORT"
  "${PIN[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --pidfile "$TMP/redis.pid" \
    --logfile "$TMP/redis.log" --dir "$TMP" --save '' --appendonly no --lazyfree-lazy-expire yes
  for _ in $(seq 1 50); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] && break
    sleep 0.1
  done
  [ "$(redis-cli -p "$REDIS_PORT" ping)" = "PONG" ]

  log "redis cluster (3 primaries, 3 replicas) on 127.0.0.1"
  start_redis_cluster "$TMP/cluster" 3

  log "postgresql on 127.0.0.1:$PG_PORT"
  mkdir -p "$PGDATA" "$TMP/sock"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PGDATA" "$TMP/sock"
  "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; return 1; }
  "${PIN[@]}" "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$TMP/sock/pg.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $TMP/sock -c fsync=off -c max_connections=300" start >/dev/null \
    || { cat "$TMP/sock/pg.log"; return 1; }
  local pass
  pass="t$(python3 -c 'import secrets;print(secrets.token_hex(12))')"
  "${AS_PG[@]}" psql -q -h "$TMP/sock" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE tessera LOGIN CREATEDB CREATEROLE PASSWORD '$pass'" -c "CREATE DATABASE tessera OWNER tessera" >/dev/null
  DATABASE_URL_SVC="postgres://tessera:$pass@127.0.0.1:$PG_PORT/tessera"
  REDIS_URL_SVC="redis://127.0.0.1:$REDIS_PORT/"
}

# bench_deployment: for the benchmarks. Builds the release binary and the
# flows load tool, starts the services, prepares a database with a
# client_credentials client (CC_ID, CC_SECRET), a public app (APP_ID) and a
# user "bench" (password bench-password-1). Sets BIN, FLOWS, WORK, PORT, BASE.
bench_deployment() {
  log "building release"
  cargo build --release --quiet
  cargo bench --bench flows --no-run --quiet 2>/dev/null
  FLOWS="$(ls -t target/release/deps/flows-* | grep -v '\.d$' | head -n1)"
  BIN=target/release/tessera
  start_services
  WORK="$TMP/work"; mkdir -p "$WORK"
  export DATABASE_URL="$DATABASE_URL_SVC" REDIS_URL="$REDIS_URL_SVC" TESSERA_KEK_FILE="$WORK/kek" RUST_LOG=warn
  python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))' > "$WORK/kek"
  PORT="$(free_port)"; BASE="http://127.0.0.1:$PORT"
  export TESSERA_BIND="127.0.0.1:$PORT" TESSERA_RATE_TIERS="free=100000000"
  $BIN migrate >/dev/null
  local cc app
  cc=$($BIN client create --name bench --grant-types client_credentials --scopes read:data --json)
  CC_ID=$(echo "$cc" | json_field client_id); CC_SECRET=$(echo "$cc" | json_field client_secret)
  app=$($BIN client create --name app --type public --grant-types authorization_code,refresh_token --scopes "openid read:data" --redirect-uris http://127.0.0.1:9/cb --json)
  APP_ID=$(echo "$app" | json_field client_id)
  echo "bench-password-1" | $BIN user create --username bench --email bench@example.com --password-stdin --json >/dev/null
}

# serve_pinned LOG: the release server on core 0 with one worker; sets
# SERVE_PID once /readyz answers.
serve_pinned() {
  taskset -c 0 "$BIN" serve --workers 1 > "$1" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
}

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# post_lua FILE BODY USER:PASSWORD : a wrk script posting a form with Basic auth.
post_lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = "$2"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s' "$3" | base64 -w0)"
LUA
}

# Steal: time the hypervisor gave another guest while a core of this virtual
# machine wanted to run. Every request waiting at that moment waits longer,
# so the bench and the soak print it beside their latencies.
# steal_mark: a mark to measure from. steal_since MARK: each core's share of
# time stolen since MARK, in per cent ("core0 / core1").
steal_mark() { awk '/^cpu[0-9]/ {t = 0; for (i = 2; i <= 9; i++) t += $i; printf "%s %s ", t, $9}' /proc/stat; }
steal_since() {
  echo "$1|$(steal_mark)" | awk -F'|' '{n = split($1, a, " "); split($2, b, " "); s = "";
    for (i = 1; i < n; i += 2) s = s (s == "" ? "" : " / ") int(100 * (b[i+1] - a[i+1]) / (b[i] - a[i] + 0.001) + 0.5); print s}'
}
