#!/usr/bin/env bash
# How Tessera's hot paths scale with concurrency and with stored state: the same runs as bench.sh
# (server on core 0, load on core 1) with 10,000, 100,000 and 1,000,000 clients
# in PostgreSQL and 1,000,000 refresh tokens in Redis, and token requests
# spread over 10,000 of the clients. Markdown on stdout.
#   bash scripts/bench-scale.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
SECS="${1:-5}"
bench_deployment
post_lua "$WORK/cc.lua" "grant_type=client_credentials" "$CC_ID:$CC_SECRET"
psql_q() { "${AS_PG[@]}" psql -q -h "$TMP/sock" -p "$PG_PORT" -U postgres -d tessera -c "$1" >/dev/null; }
# add_clients ID_EXPR SECRET_HASH_EXPR N: N confidential clients, straight into PostgreSQL.
add_clients() {
  psql_q "INSERT INTO clients (client_id, name, description, client_type, redirect_uris, grant_types, scopes, status, tier, secret_hash, created_at, updated_at) SELECT $1, 'c'||i, '', 'confidential', '', 'client_credentials', 'read:data', 'active', 'free', $2, 0, 0 FROM generate_series(1, $3) i"
}
# wrk_row RESULT: "req/s | p50 | p99" of a wrk --latency run.
wrk_row() { echo "$(echo "$1" | awk '/Requests\/sec/ {print int($2)}') | $(echo "$1" | awk '$1=="50%" {print $2}') | $(echo "$1" | awk '$1=="99%" {print $2}')"; }
run() {
  serve_pinned "$WORK/t.log"
  local pid=$SERVE_PID cc refresh
  cc=$(taskset -c 1 wrk -t1 -c16 -d"${SECS}s" -s "$WORK/cc.lua" "$BASE/token" | awk '/Requests\/sec/ {print int($2)}')
  refresh=$(taskset -c 1 "$FLOWS" --base "$BASE" --scenario refresh --client-id "$APP_ID" --username bench --password bench-password-1 --concurrency 16 --seconds "$SECS" | sed 's/.*rps=\([0-9]*\).*/\1/')
  kill $pid; wait $pid 2>/dev/null || true
  echo "| $1 | $cc | $refresh |"
}
# Concurrency sweep on client_credentials (empty state).
serve_pinned "$WORK/t.log"
SPID=$SERVE_PID
echo "| connections | client_credentials req/s | p50 | p99 |"
echo "|---|---|---|---|"
for c in 1 4 16 64 256; do
  res=$(taskset -c 1 wrk -t1 -c$c -d"${SECS}s" --latency -s "$WORK/cc.lua" "$BASE/token")
  echo "| $c | $(wrk_row "$res") |"
done
kill $SPID; wait $SPID 2>/dev/null || true
echo
echo "| stored state | client_credentials req/s | refresh rotations/s |"
echo "|---|---|---|"
run "3 clients, empty Redis"
add_clients "md5(i::text)" "md5('s'||i)" 10000
run "10,000 clients"
add_clients "md5('x'||i)" "md5('s'||i)" 90000
run "100,000 clients"
python3 - <<'PY' | redis-cli -p "$REDIS_PORT" --pipe >/dev/null
import sys, os, hashlib
def cmd(*a):
    out = [f"*{len(a)}\r\n"]
    for x in a:
        x = str(x); out.append(f"${len(x.encode())}\r\n{x}\r\n")
    return "".join(out)
w = sys.stdout.write
for i in range(1_000_000):
    h = hashlib.sha256(str(i).encode()).hexdigest()
    w(cmd("HSET", f"tessera:rt:{h}", "family", f"f{i}", "client", "seed", "user", "seed", "data", "{}", "exp", "4000000000", "jti", f"j{i}", "jexp", "4000000000", "used", "0"))
PY
run "100,000 clients, 1,000,000 refresh tokens in Redis ($(redis-cli -p "$REDIS_PORT" dbsize) keys)"
# To 1,000,000 clients; 10,000 of them with known secrets to spread the load over.
add_clients "'spread-'||i" "encode(sha256(('bench-secret-'||i)::bytea), 'hex')" 10000
add_clients "md5('y'||i)" "md5('s'||i)" 890000
run "1,000,000 clients, 1,000,000 refresh tokens"
python3 - "$WORK/spread.lua" <<'PY'
import base64, sys
with open(sys.argv[1], "w") as f:
    f.write("local auths = {\n")
    for i in range(1, 10001):
        f.write('"Basic %s",\n' % base64.b64encode(f"spread-{i}:bench-secret-{i}".encode()).decode())
    f.write("}\n")
    f.write('wrk.method = "POST"\nwrk.body = "grant_type=client_credentials"\n')
    f.write('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
    f.write('request = function()\n  wrk.headers["Authorization"] = auths[math.random(#auths)]\n  return wrk.format()\nend\n')
PY
serve_pinned "$WORK/t.log"
SPID=$SERVE_PID
echo
echo "client_credentials spread over 10,000 of the 1,000,000 clients (random client per request):"
echo
echo "| pass | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
for pass in "first (clients read from PostgreSQL as they come)" "second (clients in memory)"; do
  res=$(taskset -c 1 wrk -t1 -c16 -d"${SECS}s" --latency -s "$WORK/spread.lua" "$BASE/token")
  non2xx=$(echo "$res" | awk '/Non-2xx/ {print $5}')
  echo "| $pass | $(wrk_row "$res") | ${non2xx:-0} |"
done
kill $SPID; wait $SPID 2>/dev/null || true
