#!/usr/bin/env bash
# A/B benchmark of two Tessera binaries on the same PostgreSQL + Redis: the
# current checkout's release build (B) against OTHER_BIN (A, e.g. the build
# of an earlier commit), each in turn pinned to core 0 with the load on
# core 1, ROUNDS interleaved rounds, client_credentials and introspection.
# Prints each round and the median of the in-round ratios B/A: a change that
# claims "no regression" or "faster" shows it here, on one machine, in one run.
#   bash scripts/bench-ab.sh OTHER_BIN [SECONDS_PER_RUN] [CONCURRENCY] [ROUNDS]
# Build OTHER_BIN from a commit with, for example:
#   git worktree add /tmp/old REV && (cd /tmp/old && CARGO_TARGET_DIR=$PWD/target cargo build --release --bin tessera)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
OTHER="$(realpath "${1:?usage: bench-ab.sh OTHER_BIN [SECS] [CONC] [ROUNDS]}")"
SECS="${2:-5}"
CONC="${3:-16}"
ROUNDS="${4:-7}"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
PGBIN="$(pg_bin)"; { [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; } || need+=(postgresql)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
install_missing "${need[@]}"

bench_deployment
NEW="$BIN"
RS=$($BIN client create --name rs --grant-types client_credentials --scopes read:data --can-introspect --json)
RS_ID=$(echo "$RS" | json_field client_id); RS_SECRET=$(echo "$RS" | json_field client_secret)
post_lua "$WORK/cc.lua" "grant_type=client_credentials" "$CC_ID:$CC_SECRET"
SERVE_PID=""
trap '[ -n "$SERVE_PID" ] && kill $SERVE_PID 2>/dev/null; stop_services' EXIT INT TERM

# rps BIN LUA PATH: req/s of BIN (started fresh, warmed for 2 s) at PATH.
rps() {
  BIN="$1" serve_pinned "$WORK/serve.log"
  taskset -c 1 wrk -t1 -c"$CONC" -d2s -s "$2" "$BASE$3" >/dev/null
  local r
  r=$(taskset -c 1 wrk -t1 -c"$CONC" -d"${SECS}s" -s "$2" "$BASE$3" | awk '/Requests\/sec/ {print $2}')
  kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=""
  echo "$r"
}

CC_A=(); CC_B=(); IN_A=(); IN_B=()
for i in $(seq 1 "$ROUNDS"); do
  token=$(BIN="$NEW" serve_pinned "$WORK/serve.log"; curl -s -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | json_field access_token; kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true)
  post_lua "$WORK/intro.lua" "token=$token" "$RS_ID:$RS_SECRET"
  # Alternate which binary goes first, so neither always meets a warmer machine.
  if [ $((i % 2)) -eq 1 ]; then
    CC_A[$i]=$(rps "$OTHER" "$WORK/cc.lua" /token); CC_B[$i]=$(rps "$NEW" "$WORK/cc.lua" /token)
    IN_A[$i]=$(rps "$OTHER" "$WORK/intro.lua" /introspect); IN_B[$i]=$(rps "$NEW" "$WORK/intro.lua" /introspect)
  else
    CC_B[$i]=$(rps "$NEW" "$WORK/cc.lua" /token); CC_A[$i]=$(rps "$OTHER" "$WORK/cc.lua" /token)
    IN_B[$i]=$(rps "$NEW" "$WORK/intro.lua" /introspect); IN_A[$i]=$(rps "$OTHER" "$WORK/intro.lua" /introspect)
  fi
  log "round $i: client_credentials A ${CC_A[$i]}/s B ${CC_B[$i]}/s; introspection A ${IN_A[$i]}/s B ${IN_B[$i]}/s"
done

med() { python3 -c "import statistics,sys; a=sys.argv[1:]; n=len(a)//2; r=[float(x)/float(y) for x,y in zip(a[:n],a[n:])]; print(round(statistics.median(r),3), ' '.join(str(round(x,3)) for x in r))" "$@"; }
echo "Machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'). ${SECS}s per run, $CONC connections, $ROUNDS rounds."
echo "A = $OTHER, B = $NEW"
echo "client_credentials B/A: median, then each round: $(med "${CC_B[@]}" "${CC_A[@]}")"
echo "introspection      B/A: median, then each round: $(med "${IN_B[@]}" "${IN_A[@]}")"
