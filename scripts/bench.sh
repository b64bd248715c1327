#!/usr/bin/env bash
# Benchmark: Tessera (release build) on PostgreSQL + Redis, pinned to core 0,
# load from core 1; the machine's RS256 signing ceiling measured in the same
# run; panva's oidc-provider as a peer on the same core with the same load.
# Prints a Markdown report (also written to target/bench-report.md).
#   bash scripts/bench.sh [SECONDS_PER_RUN] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
SECS="${1:-10}"
CONC="${2:-16}"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
PGBIN="$(pg_bin)"; { [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; } || need+=(postgresql)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
install_missing "${need[@]}"
[ -d bench/peer/node_modules/oidc-provider ] || (cd bench/peer && npm ci --no-audit --no-fund --silent)

bench_deployment
json() { json_field "$1"; }
RS=$($BIN client create --name rs --grant-types client_credentials --scopes read:data --json)
RS_ID=$(echo "$RS" | json client_id); RS_SECRET=$(echo "$RS" | json client_secret)

taskset -c 0 $BIN serve --workers 1 > "$WORK/tessera.log" 2>&1 &
TPID=$!
trap 'kill $TPID 2>/dev/null; stop_services' EXIT INT TERM
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
REPORT=target/bench-report.md
: > "$REPORT"
out() { echo "$*" | tee -a "$REPORT"; }

# wrk_run NAME PID URL [LUA] -> a table row
wrk_run() {
  local name=$1 pid=$2 url=$3 lua=${4:-}
  local t0 t1 res rps p50 p99 non2xx cpu mem
  t0=$(cpu_ticks "$pid")
  if [ -n "$lua" ]; then res=$(taskset -c 1 wrk -t1 -c"$CONC" -d"${SECS}s" --latency -s "$lua" "$url")
  else res=$(taskset -c 1 wrk -t1 -c"$CONC" -d"${SECS}s" --latency "$url"); fi
  t1=$(cpu_ticks "$pid")
  rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$res" | awk '$1=="50%" {print $2}')
  p99=$(echo "$res" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$res" | awk '/Non-2xx/ {print $5}'); non2xx=${non2xx:-0}
  errors=$(echo "$res" | awk '/Socket errors/ {print $0}')
  cpu=$(python3 -c "print(round(100*($t1-$t0)/$HZ/$SECS))")
  mem=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  LAST_RPS=$rps
  out "| $name | ${rps%.*} | $p50 | $p99 | $non2xx${errors:+ ($errors)} | ${cpu}% | $((mem / 1024)) MiB |"
}

log "signing ceiling: openssl speed rsa2048 on core 0"
CEIL=$(taskset -c 0 openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
CEIL=${CEIL%.*}
LIB=""
for alg in RS256 ES256 EdDSA; do
  r=$(taskset -c 0 "$FLOWS" --scenario sign --alg $alg --seconds 3 --base x | sed 's/.*rps=//')
  LIB="$LIB | $alg $r"
  [ $alg = RS256 ] && LIBCEIL=$r
done

out "# Tessera benchmark"
out ""
out "Machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB. Server pinned to core 0, load (wrk, benches/flows.rs) pinned to core 1, PostgreSQL + Redis on loopback. ${SECS}s per run, $CONC connections."
out ""
out "RS256 signing ceiling of core 0 (openssl speed rsa2048, sign/s): **$CEIL**"
out ""
out "Tessera's own signer (aws-lc-rs, key kept in memory, whole JWT), tokens/s on core 0$LIB"
out ""
out "| Tessera | req/s | p50 | p99 | non-2xx | CPU | peak RSS |"
out "|---|---|---|---|---|---|---|"
post_lua "$WORK/cc.lua" "grant_type=client_credentials" "$CC_ID:$CC_SECRET"
wrk_run "client_credentials" $TPID "$BASE/token" "$WORK/cc.lua"; CC_RPS=$LAST_RPS
TOKEN=$(curl -s -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | json access_token)
post_lua "$WORK/intro.lua" "token=$TOKEN" "$RS_ID:$RS_SECRET"
wrk_run "introspection" $TPID "$BASE/introspect" "$WORK/intro.lua"; INTRO_RPS=$LAST_RPS
wrk_run "JWKS" $TPID "$BASE/.well-known/jwks.json"
wrk_run "discovery" $TPID "$BASE/.well-known/openid-configuration"
for sc in refresh authcode; do
  t0=$(cpu_ticks $TPID)
  line=$(taskset -c 1 "$FLOWS" --base "$BASE" --scenario $sc --client-id "$APP_ID" --username bench --password bench-password-1 --concurrency "$CONC" --seconds "$SECS")
  t1=$(cpu_ticks $TPID)
  eval "$(echo "$line" | tr ' ' '\n' | grep '=' | sed 's/^/R_/')"
  out "| $sc (flows.rs) | $R_rps | ${R_p50_ms}ms | ${R_p99_ms}ms | $R_non2xx | $(python3 -c "print(round(100*($t1-$t0)/$HZ/$SECS))")% | $(( $(awk '/VmHWM/ {print $2}' /proc/$TPID/status) / 1024 )) MiB |"
done
HALF=$(python3 -c "print(int(float('$CC_RPS')/2))")
line=$(taskset -c 1 "$FLOWS" --base "$BASE" --scenario cc --client-id "$CC_ID" --client-secret "$CC_SECRET" --concurrency "$CONC" --seconds "$SECS" --rate "$HALF")
eval "$(echo "$line" | tr ' ' '\n' | grep '=' | sed 's/^/H_/')"
out "| client_credentials at half of peak ($HALF/s, fixed rate) | $H_rps | ${H_p50_ms}ms | ${H_p99_ms}ms | $H_non2xx | | |"
kill $TPID; wait $TPID 2>/dev/null || true

log "peer: oidc-provider 8.8.1 on core 0"
PPORT="$(free_port)"
(cd bench/peer && PORT=$PPORT exec taskset -c 0 node server.mjs > "$WORK/peer.log" 2>&1) &
sleep 0.2; PPID_NODE=$(pgrep -f "node server.mjs" | head -n1)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PPORT/.well-known/openid-configuration" >/dev/null && break; sleep 0.1; done
PEER_AUTH="bench:bench-secret-bench-secret-bench-secret-00"
out ""
out "| oidc-provider 8.8.1 | req/s | p50 | p99 | non-2xx | CPU | peak RSS |"
out "|---|---|---|---|---|---|---|"
post_lua "$WORK/pcc.lua" "grant_type=client_credentials&scope=read%3Adata" "$PEER_AUTH"
wrk_run "client_credentials (JWT RS256)" "$PPID_NODE" "http://127.0.0.1:$PPORT/token" "$WORK/pcc.lua"; PEER_CC=$LAST_RPS
OPAQUE=$(curl -s -u "bench:bench-secret-bench-secret-bench-secret-00" -d grant_type=client_credentials -d scope=read:data -d resource=https://opaque.example.com "http://127.0.0.1:$PPORT/token" | json access_token)
post_lua "$WORK/pintro.lua" "token=$OPAQUE" "$PEER_AUTH"
wrk_run "introspection (opaque)" "$PPID_NODE" "http://127.0.0.1:$PPORT/token/introspection" "$WORK/pintro.lua"; PEER_INTRO=$LAST_RPS
kill "$PPID_NODE" 2>/dev/null || true

out ""
out "| ratio | value |"
out "|---|---|"
out "| Tessera client_credentials / signing ceiling (openssl) | $(python3 -c "print(round(float('$CC_RPS')/$CEIL, 2))") |"
out "| Tessera client_credentials / its own signer's RS256 rate | $(python3 -c "print(round(float('$CC_RPS')/float('$LIBCEIL'), 2))") |"
out "| peer client_credentials / signing ceiling | $(python3 -c "print(round(float('$PEER_CC')/$CEIL, 2))") |"
out "| Tessera / peer, token issuance | $(python3 -c "print(round(float('$CC_RPS')/float('$PEER_CC'), 2))")x |"
out "| Tessera / peer, introspection | $(python3 -c "print(round(float('$INTRO_RPS')/float('$PEER_INTRO'), 2))")x |"
trap - EXIT INT TERM
stop_services
exit 0
