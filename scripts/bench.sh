#!/usr/bin/env bash
# Benchmark: Tessera (release build) on PostgreSQL + Redis and on the
# embedded default (SQLite, no Redis), each pinned to core 0,
# load from core 1; the machine's RS256 signing ceiling measured in the same
# run; panva's oidc-provider as a peer on the same core with the same load.
# Prints a Markdown report (also written to target/bench-report.md).
#   bash scripts/bench.sh [SECONDS_PER_RUN] [CONCURRENCY] [ROUNDS]
# Every ratio is the median of ROUNDS interleaved rounds (the ceiling, the
# signer, then Tessera and the peer, on the same core, seconds apart): this
# shared machine's speed drifts by 10-20 % within minutes, so a ceiling or a
# peer measured once is not comparable with a rate measured minutes later.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
SECS="${1:-10}"
CONC="${2:-16}"
ROUNDS="${3:-5}"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
PGBIN="$(pg_bin)"; { [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; } || need+=(postgresql)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
install_missing "${need[@]}"
[ -d bench/peer/node_modules/oidc-provider ] || (cd bench/peer && npm ci --no-audit --no-fund --silent)

# STORES_CPU=1 puts Redis and PostgreSQL on core 1 with the load. Not the
# default: measured on 2026-12-02, it left client_credentials at the same
# ratio (0.80) and raised p99 at half load (the stores then wait behind
# the load generator).
export STORES_CPU="${STORES_CPU-}"
bench_deployment
json() { json_field "$1"; }
RS=$($BIN client create --name rs --grant-types client_credentials --scopes read:data --can-introspect --json)
RS_ID=$(echo "$RS" | json client_id); RS_SECRET=$(echo "$RS" | json client_secret)

serve_pinned "$WORK/tessera.log"
TPID=$SERVE_PID

# The embedded default beside it: what `tessera serve` runs on a fresh
# checkout (SQLite, no Redis), same binary, same core, idle while the other
# is measured. Its own client, app and user.
EDB="sqlite://$WORK/embedded.db?mode=rwc"
embedded() { DATABASE_URL="$EDB" REDIS_URL= "$@"; }
embedded $BIN migrate >/dev/null
ECC=$(embedded $BIN client create --name bench --grant-types client_credentials --scopes read:data --json)
ECC_ID=$(echo "$ECC" | json client_id); ECC_SECRET=$(echo "$ECC" | json client_secret)
EAPP_ID=$(embedded $BIN client create --name app --type public --grant-types authorization_code,refresh_token --scopes "openid read:data" --redirect-uris http://127.0.0.1:9/cb --json | json client_id)
echo "bench-password-1" | embedded $BIN user create --username bench --email bench@example.com --password-stdin --json >/dev/null
EPORT="$(free_port)"; EBASE="http://127.0.0.1:$EPORT"
(export DATABASE_URL="$EDB" REDIS_URL= TESSERA_BIND="127.0.0.1:$EPORT"; exec taskset -c 0 "$BIN" serve --workers 1) > "$WORK/embedded.log" 2>&1 &
EPID=$!
for _ in $(seq 1 100); do curl -sf "$EBASE/readyz" >/dev/null && break; sleep 0.1; done
trap 'kill $TPID $EPID 2>/dev/null; stop_services' EXIT INT TERM

# CPU ticks (user + system) of the given processes, summed (PostgreSQL runs one per connection).
cpu_ticks() { local s=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $s; }
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
  LAST_ROW="| $name | ${rps%.*} | $p50 | $p99 | $non2xx${errors:+ ($errors)} | ${cpu}% | $((mem / 1024)) MiB |"
  [ -n "${QUIET:-}" ] || out "$LAST_ROW"
}
ceiling() { taskset -c 0 openssl speed -seconds "$1" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {printf "%d", $6}'; }

log "signing ceiling: openssl speed rsa2048 on core 0"
CEIL=$(ceiling 5)
LIB=""
for alg in RS256 ES256 EdDSA; do
  r=$(taskset -c 0 "$FLOWS" --scenario sign --alg $alg --seconds 3 --base x | sed 's/.*rps=//')
  LIB="$LIB | $alg $r"
done

out "# Tessera benchmark"
out ""
out "Machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB. Server pinned to core 0, load (wrk, benches/flows.rs) pinned to core 1, PostgreSQL + Redis on loopback, $([ -n "${STORES_CPU:-}" ] && echo "pinned to core $STORES_CPU with the load" || echo "sharing the cores"). ${SECS}s per run, $CONC connections."
out ""
out "RS256 signing ceiling of core 0 (openssl speed rsa2048, sign/s): **$CEIL**"
out ""
# Every response wakes the idle load tool on core 1; scripts/wake-cost.py
# measures what such a wake costs core 0 on this machine.
out "One wake of the idle load core (core 1) costs core 0, per wake, **$(python3 scripts/wake-cost.py)** (scripts/wake-cost.py)"
out ""
out "Tessera's own signer (aws-lc-rs, key kept in memory, whole JWT), tokens/s on core 0$LIB"
out ""
log "peer: oidc-provider 8.8.1 on core 0 (idle while Tessera is measured, and the other way round)"
PPORT="$(free_port)"
(cd bench/peer && PORT=$PPORT exec taskset -c 0 node server.mjs > "$WORK/peer.log" 2>&1) &
sleep 0.2; PPID_NODE=$(pgrep -f "node server.mjs" | head -n1)
trap 'kill $TPID $EPID $PPID_NODE 2>/dev/null; stop_services' EXIT INT TERM
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PPORT/.well-known/openid-configuration" >/dev/null && break; sleep 0.1; done
PEER="http://127.0.0.1:$PPORT"
PEER_AUTH="bench:bench-secret-bench-secret-bench-secret-00"
post_lua "$WORK/cc.lua" "grant_type=client_credentials" "$CC_ID:$CC_SECRET"
post_lua "$WORK/ecc.lua" "grant_type=client_credentials" "$ECC_ID:$ECC_SECRET"
post_lua "$WORK/pcc.lua" "grant_type=client_credentials&scope=read%3Adata" "$PEER_AUTH"
# Fresh tokens to introspect (each round: both servers' tokens expire in minutes).
fresh_tokens() {
  local token opaque
  token=$(curl -s -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | json access_token)
  post_lua "$WORK/intro.lua" "token=$token" "$RS_ID:$RS_SECRET"
  opaque=$(curl -s -u "$PEER_AUTH" -d grant_type=client_credentials -d scope=read:data -d resource=https://opaque.example.com "$PEER/token" | json access_token)
  post_lua "$WORK/pintro.lua" "token=$opaque" "$PEER_AUTH"
}

# Interleaved rounds on core 0: the ceiling, Tessera's own signer, then
# client_credentials and introspection on Tessera and on the peer. Every
# ratio is taken within a round; the tables show the round with the median
# Tessera/ceiling ratio and the medians of each ratio.
# Warm both servers first (the peer's JIT needs it), results discarded.
warm_up() {
  fresh_tokens
  for target in "$BASE/token $WORK/cc.lua" "$EBASE/token $WORK/ecc.lua" "$PEER/token $WORK/pcc.lua" "$BASE/introspect $WORK/intro.lua" "$PEER/token/introspection $WORK/pintro.lua"; do
    set -- $target
    taskset -c 1 wrk -t1 -c"$CONC" -d2s -s "$2" "$1" >/dev/null
  done
}
do_rounds() {
  warm_up
  R_CEIL=(); R_SIGN=(); R_CC=(); R_ECC=(); R_EROW=(); R_PCC=(); R_INTRO=(); R_PINTRO=(); R_RATIO=(); R_ROW=(); R_PROW=(); R_IROW=(); R_PIROW=(); R_STEAL=()
  for i in $(seq 1 "$ROUNDS"); do
    fresh_tokens
    local mark; mark=$(steal_mark)
    R_CEIL[$i]=$(ceiling 3)
    R_SIGN[$i]=$(taskset -c 0 "$FLOWS" --scenario sign --alg RS256 --seconds 2 --base x | sed 's/.*rps=//')
    QUIET=1 wrk_run "client_credentials" $TPID "$BASE/token" "$WORK/cc.lua"; R_CC[$i]=$LAST_RPS; R_ROW[$i]=$LAST_ROW
    QUIET=1 wrk_run "client_credentials, embedded default (SQLite, no Redis)" $EPID "$EBASE/token" "$WORK/ecc.lua"; R_ECC[$i]=$LAST_RPS; R_EROW[$i]=$LAST_ROW
    QUIET=1 wrk_run "client_credentials (JWT RS256)" "$PPID_NODE" "$PEER/token" "$WORK/pcc.lua"; R_PCC[$i]=$LAST_RPS; R_PROW[$i]=$LAST_ROW
    QUIET=1 wrk_run "introspection" $TPID "$BASE/introspect" "$WORK/intro.lua"; R_INTRO[$i]=$LAST_RPS; R_IROW[$i]=$LAST_ROW
    QUIET=1 wrk_run "introspection (opaque)" "$PPID_NODE" "$PEER/token/introspection" "$WORK/pintro.lua"; R_PINTRO[$i]=$LAST_RPS; R_PIROW[$i]=$LAST_ROW
    R_RATIO[$i]=$(python3 -c "print(round(float('${R_CC[$i]}')/${R_CEIL[$i]}, 3))")
    R_STEAL[$i]=$(steal_since "$mark")
    log "round $i: ceiling ${R_CEIL[$i]}/s, Tessera ${R_CC[$i]}/s (${R_RATIO[$i]}), embedded ${R_ECC[$i]}/s, peer ${R_PCC[$i]}/s; introspection ${R_INTRO[$i]}/s vs ${R_PINTRO[$i]}/s; steal ${R_STEAL[$i]} %"
  done
}
do_rounds
MID=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; print(sorted(range(len(v)), key=v.__getitem__)[len(v)//2] + 1)" "${R_RATIO[@]}")
CC_RPS=${R_CC[$MID]}
# median over rounds of A[i]/B[i]: pmed "${A[@]}" "${B[@]}"
pmed() { python3 -c "import statistics,sys; a=sys.argv[1:]; n=len(a)//2; print(round(statistics.median(float(x)/float(y) for x,y in zip(a[:n],a[n:])), 3))" "$@"; }
each() { python3 -c "import sys; a=sys.argv[1:]; n=len(a)//2; print(' '.join(str(round(float(x)/float(y), 2)) for x,y in zip(a[:n],a[n:])))" "$@"; }

out "| Tessera | req/s | p50 | p99 | non-2xx | CPU | peak RSS |"
out "|---|---|---|---|---|---|---|"
out "${R_ROW[$MID]}"
out "${R_EROW[$MID]}"
out "${R_IROW[$MID]}"
wrk_run "JWKS" $TPID "$BASE/.well-known/jwks.json"
wrk_run "discovery" $TPID "$BASE/.well-known/openid-configuration"
# The stateful flows, on both setups. Each request of a flow signs two RS256
# tokens (access and ID token; authcode: /authorize then /token), so its
# ceiling is half the signing ceiling.
CEIL_MED=$(python3 -c "import statistics,sys; print(int(statistics.median(float(x) for x in sys.argv[1:])))" "${R_CEIL[@]}")
PER_REQ=(); FLOW_RATIO=(); declare -A FLOW_RPS
flows_of() { # NAME BASE APP PID CC_ID CC_SECRET
  local name=$1 base=$2 app=$3 pid=$4 ccid=$5 ccsecret=$6 sc line half mark
  for sc in refresh authcode; do
    flow() { taskset -c 1 "$FLOWS" --base "$base" --scenario $sc --client-id "$app" --username bench --password bench-password-1 --concurrency "$CONC" --seconds "$1" "${@:2}"; }
    flow 1 >/dev/null # opens the database pool's connections
    PGP=$(pgrep -x postgres | tr '\n' ' '); RDP=$(cat "$TMP/redis.pid")
    t0=$(cpu_ticks $pid); p0=$(cpu_ticks $PGP); r0=$(cpu_ticks $RDP)
    line=$(flow "$SECS")
    t1=$(cpu_ticks $pid); p1=$(cpu_ticks $PGP); r1=$(cpu_ticks $RDP)
    eval "$(echo "$line" | tr ' ' '\n' | grep '=' | sed 's/^/R_/')"
    out "| $sc, $name (flows.rs) | $R_rps | ${R_p50_ms}ms | ${R_p99_ms}ms | $R_non2xx | $(python3 -c "print(round(100*($t1-$t0)/$HZ/$SECS))")% | $(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 )) MiB |"
    us() { python3 -c "print(round(1e6*$1/$HZ/max(1,$R_requests)))"; }
    PER_REQ+=("| $sc, $name | $(us $((t1-t0))) | $(us $((p1-p0))) | $(us $((r1-r0))) |")
    FLOW_RATIO+=("| $sc, $name / (signing ceiling ÷ 2) | **$(python3 -c "print(round(float('$R_rps')/($CEIL_MED/2), 3))")** |")
    FLOW_RPS["$sc,$name"]=$R_rps
    if [ $sc = refresh ]; then
      half=$(python3 -c "print(int(float('$R_rps')/2))")
      mark=$(steal_mark)
      line=$(flow "$SECS" --rate "$half")
      eval "$(echo "$line" | tr ' ' '\n' | grep '=' | sed 's/^/H_/')"
      out "| refresh, $name, at half of its peak ($half/s, fixed rate; steal $(steal_since "$mark") %) | $H_rps | ${H_p50_ms}ms | ${H_p99_ms}ms | $H_non2xx | | |"
    fi
  done
  half=$(python3 -c "print(int(float('$7')/2))")
  mark=$(steal_mark)
  line=$(taskset -c 1 "$FLOWS" --base "$base" --scenario cc --client-id "$ccid" --client-secret "$ccsecret" --concurrency "$CONC" --seconds "$SECS" --rate "$half")
  eval "$(echo "$line" | tr ' ' '\n' | grep '=' | sed 's/^/H_/')"
  out "| client_credentials, $name, at half of peak ($half/s, fixed rate; steal $(steal_since "$mark") %) | $H_rps | ${H_p50_ms}ms | ${H_p99_ms}ms | $H_non2xx | | |"
}
ECC_RPS=${R_ECC[$MID]}
flows_of "PostgreSQL + Redis" "$BASE" "$APP_ID" "$TPID" "$CC_ID" "$CC_SECRET" "$CC_RPS"
flows_of "embedded" "$EBASE" "$EAPP_ID" "$EPID" "$ECC_ID" "$ECC_SECRET" "$ECC_RPS"
# The peer's same two flows, right after, on the same core: its public app
# with PKCE, an RS256 JWT access token and ID token per exchange, refresh
# tokens rotated on every use (bench/peer/server.mjs). Its sign-in is
# answered at once; the flows then reuse the session, as with Tessera.
PEER_FLOWS=()
for sc in refresh authcode; do
  pflow() { taskset -c 1 "$FLOWS" --base "$PEER" --peer oidc-provider --scenario $sc --client-id app --concurrency "$CONC" --seconds "$1"; }
  pflow 1 >/dev/null
  t0=$(cpu_ticks "$PPID_NODE")
  line=$(pflow "$SECS")
  t1=$(cpu_ticks "$PPID_NODE")
  eval "$(echo "$line" | tr ' ' '\n' | grep '=' | sed 's/^/P_/')"
  PEER_FLOWS+=("| $sc (flows.rs) | $P_rps | ${P_p50_ms}ms | ${P_p99_ms}ms | $P_non2xx | $(python3 -c "print(round(100*($t1-$t0)/$HZ/$SECS))")% | $(( $(awk '/VmHWM/ {print $2}' /proc/$PPID_NODE/status) / 1024 )) MiB |")
  PER_REQ+=("| $sc, oidc-provider (peer) | $(python3 -c "print(round(1e6*$((t1-t0))/$HZ/max(1,$P_requests)))") | – | – |")
  FLOW_RATIO+=("| $sc, oidc-provider (peer) / (signing ceiling ÷ 2) | $(python3 -c "print(round(float('$P_rps')/($CEIL_MED/2), 3))") |")
  FLOW_RATIO+=("| $sc, Tessera (PostgreSQL + Redis) / peer | **$(python3 -c "print(round(float('${FLOW_RPS[$sc,PostgreSQL + Redis]}')/float('$P_rps'), 2))")x** |")
  FLOW_RATIO+=("| $sc, Tessera (embedded) / peer | **$(python3 -c "print(round(float('${FLOW_RPS[$sc,embedded]}')/float('$P_rps'), 2))")x** |")
done
out ""
out "CPU per request of the stateful flows, in µs (a flow's request is one /token call, or /authorize and /token for authcode):"
out ""
out "| flow | Tessera | PostgreSQL (all processes) | Redis |"
out "|---|---|---|---|"
for row in "${PER_REQ[@]}"; do out "$row"; done
out ""
out "| stateful flows against their ceiling (median ceiling of the rounds: $CEIL_MED/s) | ratio |"
out "|---|---|"
for row in "${FLOW_RATIO[@]}"; do out "$row"; done
out ""
out "| oidc-provider 8.8.1 (client_credentials and introspection: the median round; the flows: right after Tessera's) | req/s | p50 | p99 | non-2xx | CPU | peak RSS |"
out "|---|---|---|---|---|---|---|"
out "${R_PROW[$MID]}"
out "${R_PIROW[$MID]}"
for row in "${PEER_FLOWS[@]}"; do out "$row"; done

# Capacity (docs/capacity.md): what the state costs, measured on what the
# flows above left behind, and what a login costs.
log "capacity: key sizes in Redis, row sizes in PostgreSQL, logins per core"
for _ in $(seq 1 50); do
  tok=$(curl -s -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | json access_token)
  curl -s -u "$CC_ID:$CC_SECRET" -d "token=$tok" "$BASE/revoke" >/dev/null
done
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# mem_of PATTERN: mean MEMORY USAGE (bytes) over up to 200 keys, and the mean set size
mem_of() {
  rcli --scan --pattern "$1" | head -200 | while read -r k; do echo "$(rcli memory usage "$k") $(rcli type "$k" | grep -q set && rcli scard "$k" || echo 1)"; done \
    | awk '{b+=$1; m+=$2; n++} END {if (n) printf "%d | %.1f | %d", b/n, m/n, n; else print "- | - | 0"}'
}
out ""
out "State in Redis after the flows (MEMORY USAGE, mean over sampled keys):"
out ""
out "| key | bytes per key | members per key | keys sampled |"
out "|---|---|---|---|"
for k in "rt:*" "fam:*" "uc:*" "deny:*" "sess:*" "usess:*" "code:*"; do out "| \`$k\` | $(mem_of "tessera:$k") |"; done
out ""
out "Redis in all: $(rcli dbsize) keys, $(rcli info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r') bytes used."
out ""
out "| PostgreSQL table | rows | bytes per row (table + indexes ÷ rows) |"
out "|---|---|---|"
for t in audit_events grants clients users signing_keys; do
  out "| $t | $(psql "$DATABASE_URL_SVC" -tAc "SELECT count(*) || ' | ' || (pg_total_relation_size('$t') / GREATEST(count(*), 1)) FROM $t") |"
done
out ""
out "Logins (argon2id hashes) per second on core 0: **$(taskset -c 0 "$FLOWS" --scenario password --seconds 3 --base x | sed 's/.*rps=//')**"

ratio_table() {
  out ""
  out "| ratio, $1 (median over $ROUNDS rounds, each taken within one round) | median | every round |"
  out "|---|---|---|"
  out "| Tessera client_credentials / signing ceiling (openssl) | **$(pmed "${R_CC[@]}" "${R_CEIL[@]}")** | $(each "${R_CC[@]}" "${R_CEIL[@]}") |"
  out "| embedded default (SQLite, no Redis) client_credentials / signing ceiling | **$(pmed "${R_ECC[@]}" "${R_CEIL[@]}")** | $(each "${R_ECC[@]}" "${R_CEIL[@]}") |"
  out "| Tessera client_credentials / its own signer's RS256 rate | $(pmed "${R_CC[@]}" "${R_SIGN[@]}") | $(each "${R_CC[@]}" "${R_SIGN[@]}") |"
  out "| its own signer / signing ceiling | $(pmed "${R_SIGN[@]}" "${R_CEIL[@]}") | $(each "${R_SIGN[@]}" "${R_CEIL[@]}") |"
  out "| peer client_credentials / signing ceiling | $(pmed "${R_PCC[@]}" "${R_CEIL[@]}") | $(each "${R_PCC[@]}" "${R_CEIL[@]}") |"
  out "| Tessera / peer, token issuance | **$(pmed "${R_CC[@]}" "${R_PCC[@]}")x** | $(each "${R_CC[@]}" "${R_PCC[@]}") |"
  out "| Tessera / peer, introspection | **$(pmed "${R_INTRO[@]}" "${R_PINTRO[@]}")x** | $(each "${R_INTRO[@]}" "${R_PINTRO[@]}") |"
  out ""
  out "Rounds (ceiling, signer, Tessera cc, peer cc, Tessera introspection, peer introspection, req/s; then the share of each core's time stolen by the hypervisor):"
  for i in $(seq 1 "$ROUNDS"); do out "- ${R_CEIL[$i]}, ${R_SIGN[$i]}, ${R_CC[$i]%.*}, ${R_PCC[$i]%.*}, ${R_INTRO[$i]%.*}, ${R_PINTRO[$i]%.*}; steal ${R_STEAL[$i]} %"; done
}
ratio_table "as the machine comes"

# The same rounds with no vCPU halting when idle (/dev/cpu_dma_latency held
# at 0, as tuned's latency-performance profile does). On this VM, waking the
# halted load core costs the sender an IPI exit on every response; this
# second table shows how much of the gap to the ceiling that is. The
# targets are judged on the table above.
if [ -w /dev/cpu_dma_latency ] && [ "${NOHALT:-1}" = 1 ]; then
  python3 -c 'import os,struct,signal; fd=os.open("/dev/cpu_dma_latency", os.O_WRONLY); os.write(fd, struct.pack("i", 0)); signal.pause()' &
  LATPID=$!
  trap 'kill $TPID $EPID $PPID_NODE $LATPID 2>/dev/null; stop_services' EXIT INT TERM
  log "again with no vCPU halting when idle"
  NOHALT_WAKE=$(python3 scripts/wake-cost.py)
  do_rounds
  kill $LATPID 2>/dev/null; wait $LATPID 2>/dev/null || true
  ratio_table "no vCPU halts when idle (cpu_dma_latency 0)"
  out ""
  out "With no vCPU halts, one wake of the load core costs core 0: $NOHALT_WAKE"
fi
kill $TPID $EPID "$PPID_NODE" 2>/dev/null; wait $TPID 2>/dev/null || true
trap - EXIT INT TERM
stop_services
exit 0
