#!/usr/bin/env bash
# Soak: MINUTES (default 30) at half of the mix's peak on PostgreSQL + Redis, in
# windows of WINDOW seconds (default 300), with a mix of 70 % client
# credentials, 20 % refresh rotation, 10 % code flow (/authorize + /token)
# and introspection beside them. Tokens live briefly here (access 60 s,
# refresh 120 s) so that expiry has to keep up within the soak.
#   bash scripts/soak.sh [MINUTES] [WINDOW_SECONDS]
# Prints one line per window (p99 per flow, each flow's slowest request,
# the share of each core's time the hypervisor stole, non-2xx, RSS, Redis
# memory, PostgreSQL size), then what ran on the cores around each window's
# slowest request and Tessera's RSS minute by minute (scripts/soak-sample.py
# records both every 100 ms), and judges the goals of issue 18 at the end:
#   * RSS growth after the first window < 10 %;
#   * no non-2xx answer at all;
#   * every window's p99 within 2x of the first window's, per flow;
#   * Redis memory and PostgreSQL size flat once the longest-lived entry
#     (a used refresh token: 120 s + 600 s of replay memory) has had time
#     to expire: the last window within 10 % of the one at that point.
# Exits 1 when a goal is missed. Not part of the test suite (it takes MINUTES).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
MINUTES="${1:-30}"
WINDOW="${2:-300}"
CONC=16
# client_credentials carries 70 % of the load: at ~1,000/s a worker of 16
# sends every 16 ms, so a few slower answers in a row put it behind its
# schedule for good and the lag counts as latency. 64 workers keep the
# schedule with slack, as the bench's half-load runs do at their rate.
CC_CONC=64

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
PGBIN="$(pg_bin)"; { [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; } || need+=(postgresql)
install_missing "${need[@]}"

export TESSERA_ACCESS_TOKEN_TTL=60 TESSERA_REFRESH_TOKEN_TTL=120 TESSERA_KEY_REFRESH_SECS=10
# STORES_CPU=1 puts Redis and PostgreSQL on core 1 with the load. Not the
# default: measured on 2026-12-02, it left client_credentials at the same
# ratio (0.80) and raised p99 at half load (the stores then wait behind
# the load generator).
export STORES_CPU="${STORES_CPU-}"
bench_deployment
RS=$($BIN client create --name rs --grant-types client_credentials --scopes read:data --can-introspect --json)
RS_ID=$(echo "$RS" | json_field client_id); RS_SECRET=$(echo "$RS" | json_field client_secret)
# PostgreSQL logs every statement slower than 100 ms, and Redis every event
# over 5 ms: printed at the end, beside a window whose p99 jumped.
"${AS_PG[@]}" psql -q -h "$TMP/sock" -p "$PG_PORT" -U postgres -c "ALTER SYSTEM SET log_min_duration_statement = 100" -c "SELECT pg_reload_conf()" >/dev/null
redis-cli -p "$REDIS_PORT" config set latency-monitor-threshold 5 >/dev/null
serve_pinned "$WORK/tessera.log"
TPID=$SERVE_PID
# who holds each core, every 100 ms: read beside each window's slowest request
python3 scripts/soak-sample.py record "$WORK/cpu.tsv" "$TPID" &
SAMPLER=$!
trap 'kill $TPID $SAMPLER 2>/dev/null; stop_services' EXIT INT TERM

flows() { taskset -c 1 "$FLOWS" --base "$BASE" --concurrency "$CONC" "$@"; }
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k {print $2}'; }
TOKEN=$(curl -s -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | json_field access_token)
# "Half of peak" is half of the mix's own peak. The mix costs more per
# request than client_credentials alone (a refresh or a code flow signs
# two tokens), so half of client_credentials' peak filled Tessera's core
# (soak run 7). Each flow runs alone for 10 s at full speed (its sign-ins
# before); the mix's peak is the rate at which its shares' costs fill the
# server, 1 / (0.70 / cc + 0.20 / refresh + 0.05 / code + 0.05 / introspection),
# and the soak takes the median over PEAK_ROUNDS rounds (3), as the bench
# takes medians: one round's peak swings with the host's speed.
soon() { python3 -c "import time; print(f'{time.time() + $1:.3f}')"; }
peak_of() { field "$(flows --start-at "$(soon 3)" --seconds 10 --scenario "$@")" rps; }
MIXES=()
for r in $(seq 1 "${PEAK_ROUNDS:-3}"); do
  cc=$(peak_of cc --client-id "$CC_ID" --client-secret "$CC_SECRET")
  rt=$(peak_of refresh --client-id "$APP_ID" --username bench --password bench-password-1)
  ac=$(peak_of authcode --client-id "$APP_ID" --username bench --password bench-password-1)
  in=$(peak_of introspect --client-id "$RS_ID" --client-secret "$RS_SECRET" --token "$TOKEN")
  MIXES+=("$(python3 -c "print(round(1 / (0.70 / $cc + 0.20 / $rt + 0.05 / $ac + 0.05 / $in)))")")
  log "peak round $r, alone (per second): cc $cc, refresh $rt, code flow $ac, introspection $in; the mix ${MIXES[-1]}"
done
PEAK=$(python3 -c "import statistics, sys; print(round(statistics.median(map(float, sys.argv[1:]))))" "${MIXES[@]}")
HALF=$((PEAK / 2))
R_CC=$((HALF * 70 / 100)); R_RT=$((HALF * 20 / 100)); R_AC=$((HALF * 10 / 100 / 2)); R_IN=$((HALF * 10 / 100 / 2))
log "peak of the mix $PEAK/s (median of ${MIXES[*]}); soak at $HALF/s: cc $R_CC, refresh $R_RT, code flow $R_AC, introspection $R_IN per second"

rss() { awk '/VmRSS/ {print $2}' "/proc/$TPID/status"; }
redis_mem() { redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }
pg_size() { psql "$DATABASE_URL_SVC" -tAc "SELECT pg_database_size(current_database())"; }
N=$(( (MINUTES * 60 + WINDOW - 1) / WINDOW ))
# the window by which every entry written in the first one has expired (720 s)
STEADY=$(( 720 / WINDOW + 2 ))
# "slowest": each flow's slowest request of the window (cc/refresh/code/
# introspection), which tells one long wait from many short ones.
printf '| window | began (UTC) | cc p99 ms | refresh p99 ms | code p99 ms | introspect p99 ms | slowest ms | steal %% (core 0 / 1) | non-2xx | RSS KiB | Redis bytes | PostgreSQL bytes |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n'
declare -a P_CC P_RT P_AC P_IN RSS RMEM PGS SLOWEST_AT SLOWEST_UNIX
BAD=0
for w in $(seq 1 "$N"); do
  # `wait` alone would wait for the server too: wait for these four
  # The four flows begin together, 4 s from now: the refresh and code flows'
  # 32 sign-ins (argon2id on Tessera's core) come before the window, not in it.
  pids=(); began=$(soon 4); mark=$(steal_mark)
  flows --start-at "$began" --scenario cc --client-id "$CC_ID" --client-secret "$CC_SECRET" --seconds "$WINDOW" --rate "$R_CC" --concurrency "$CC_CONC" > "$WORK/cc.out" & pids+=($!)
  flows --start-at "$began" --scenario refresh --client-id "$APP_ID" --username bench --password bench-password-1 --seconds "$WINDOW" --rate "$R_RT" > "$WORK/rt.out" & pids+=($!)
  flows --start-at "$began" --scenario authcode --client-id "$APP_ID" --username bench --password bench-password-1 --seconds "$WINDOW" --rate "$R_AC" > "$WORK/ac.out" & pids+=($!)
  flows --start-at "$began" --scenario introspect --client-id "$RS_ID" --client-secret "$RS_SECRET" --token "$TOKEN" --seconds "$WINDOW" --rate "$R_IN" > "$WORK/in.out" & pids+=($!)
  wait "${pids[@]}"
  P_CC[$w]=$(field "$(cat "$WORK/cc.out")" p99_ms); P_RT[$w]=$(field "$(cat "$WORK/rt.out")" p99_ms)
  P_AC[$w]=$(field "$(cat "$WORK/ac.out")" p99_ms); P_IN[$w]=$(field "$(cat "$WORK/in.out")" p99_ms)
  bad=0; for f in cc rt ac in; do bad=$((bad + $(field "$(cat "$WORK/$f.out")" non2xx))); done
  BAD=$((BAD + bad)); RSS[$w]=$(rss); RMEM[$w]=$(redis_mem); PGS[$w]=$(pg_size)
  slowest=$(for f in cc rt ac in; do field "$(cat "$WORK/$f.out")" max_ms; done | paste -sd/)
  echo "| $w | $(date -u -d "@$began" +%T) | ${P_CC[$w]} | ${P_RT[$w]} | ${P_AC[$w]} | ${P_IN[$w]} | $slowest | $(steal_since "$mark") | $bad | ${RSS[$w]} | ${RMEM[$w]} | ${PGS[$w]} |"
  SLOWEST_AT[$w]=$(for f in cc rt ac in; do date -u -d "@$(field "$(cat "$WORK/$f.out")" max_at_unix)" +%T.%3N; done | paste -sd/)
  SLOWEST_UNIX[$w]=$(field "$(cat "$WORK/cc.out")" max_at_unix)
done
log "each window's slowest request was sent at (UTC; cc/refresh/code/introspection):"
for w in $(seq 1 "$N"); do echo "  window $w: ${SLOWEST_AT[$w]}"; done
log "what ran on the cores around each window's slowest client_credentials request:"
python3 scripts/soak-sample.py around "$WORK/cpu.tsv" "${SLOWEST_UNIX[@]}"
python3 scripts/soak-sample.py rss "$WORK/cpu.tsv"

fail=0
judge() { if [ "$1" = ok ]; then log "goal met: $2"; else log "GOAL MISSED: $2"; fail=1; fi; }
[ "$BAD" -eq 0 ] && judge ok "no non-2xx answer" || judge no "no non-2xx answer ($BAD)"
growth=$(python3 -c "print(round(100*(${RSS[$N]}-${RSS[1]})/${RSS[1]}, 1))")
python3 -c "import sys; sys.exit(0 if $growth < 10 else 1)" && judge ok "RSS growth after the first window $growth % < 10 %" || judge no "RSS growth $growth %"
for flow in CC RT AC IN; do
  eval "vals=(\"\${P_$flow[@]}\")"
  worst=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; print(round(max(v)/max(v[0], 0.001), 2))" "${vals[@]}")
  python3 -c "import sys; sys.exit(0 if $worst <= 2 else 1)" && judge ok "$flow p99 within 2x of the first window (worst $worst x)" || judge no "$flow p99 $worst x the first window"
done
if [ "$N" -gt "$STEADY" ]; then
  for pair in "Redis memory:RMEM" "PostgreSQL size:PGS"; do
    name=${pair%%:*}; eval "vals=(\"\${${pair##*:}[@]}\")"
    drift=$(python3 -c "import sys; v=[float(x) for x in sys.argv[2:]]; s=int(sys.argv[1]); print(round(100*(v[-1]-v[s-1])/v[s-1], 1))" "$STEADY" "${vals[@]}")
    python3 -c "import sys; sys.exit(0 if $drift < 10 else 1)" && judge ok "$name flat after window $STEADY ($drift %)" || judge no "$name grew $drift % after window $STEADY"
  done
else
  log "too short to judge Redis and PostgreSQL growth: needs more than $STEADY windows of $WINDOW s"
fi
log "slow PostgreSQL statements (> 100 ms): $(grep -c 'duration:' "$TMP/sock/pg.log" || true)"
grep 'duration:' "$TMP/sock/pg.log" | tail -n 20 || true
log "Redis latency events (> 5 ms; event, unix time, latest ms, max ms):"
redis-cli -p "$REDIS_PORT" latency latest | paste - - - - || true
for ev in $(redis-cli -p "$REDIS_PORT" latency latest | awk 'NR % 4 == 1'); do
  echo "  $ev (UTC time, ms): $(redis-cli -p "$REDIS_PORT" latency history "$ev" | paste - - | while read -r t ms; do echo "$(date -u -d "@$t" +%T) $ms"; done | paste -sd, | tail -c 2000)"
done
log "Tessera's warnings and errors: $(grep -cE 'WARN|ERROR' "$WORK/tessera.log" || true)"
exit $fail
