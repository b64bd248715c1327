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
SERVE_PID=""
trap '[ -n "$SERVE_PID" ] && kill $SERVE_PID 2>/dev/null; stop_services' EXIT INT TERM

# Each binary gets a database (and Redis prefix) of its own on the same
# servers, set up by its own command line: the two may differ in schema.
# deploy SIDE BIN DBNAME: sets URL_<SIDE>, PREFIX_<SIDE>, CRED_<SIDE> and
# RSCRED_<SIDE> (id:secret of a machine client and a resource server), and
# writes the wrk script cc_<SIDE>.lua.
deploy() {
  local side=$1 bin=$2 db=$3 url prefix cc rs
  if [ "$db" != tessera ]; then
    "${AS_PG[@]}" psql -q -h "$TMP/sock" -p "$PG_PORT" -U postgres -c "CREATE DATABASE $db OWNER tessera" >/dev/null
  fi
  url="${DATABASE_URL_SVC%/*}/$db"; prefix="ab_${side}:"
  DATABASE_URL="$url" TESSERA_REDIS_PREFIX="$prefix" "$bin" migrate >/dev/null
  cc=$(DATABASE_URL="$url" TESSERA_REDIS_PREFIX="$prefix" "$bin" client create --name bench --grant-types client_credentials --scopes read:data --json)
  # A resource server that may introspect others' tokens (builds before the flag existed allow it anyway).
  rs=$(DATABASE_URL="$url" TESSERA_REDIS_PREFIX="$prefix" "$bin" client create --name rs --grant-types client_credentials --scopes read:data --can-introspect --json 2>/dev/null \
    || DATABASE_URL="$url" TESSERA_REDIS_PREFIX="$prefix" "$bin" client create --name rs --grant-types client_credentials --scopes read:data --json)
  eval "URL_$side=\$url; PREFIX_$side=\$prefix"
  eval "CRED_$side=\$(echo \"\$cc\" | json_field client_id):\$(echo \"\$cc\" | json_field client_secret)"
  eval "RSCRED_$side=\$(echo \"\$rs\" | json_field client_id):\$(echo \"\$rs\" | json_field client_secret)"
  post_lua "$WORK/cc_$side.lua" "grant_type=client_credentials" "$(eval echo "\$CRED_$side")"
}
deploy A "$OTHER" tessera_a
deploy B "$NEW" tessera

# on SIDE BIN CMD…: run CMD with SIDE's database and Redis prefix.
on() { local side=$1; shift; DATABASE_URL="$(eval echo "\$URL_$side")" TESSERA_REDIS_PREFIX="$(eval echo "\$PREFIX_$side")" "$@"; }

# rps SIDE BIN LUA PATH: req/s of BIN (started fresh, warmed for 2 s) at PATH.
rps() {
  on "$1" env BIN="$2" bash -c '. scripts/services.sh; BASE='"$BASE"'; serve_pinned "'"$WORK"'/serve.log"; echo $SERVE_PID' > "$WORK/pid"
  SERVE_PID=$(cat "$WORK/pid")
  taskset -c 1 wrk -t1 -c"$CONC" -d2s -s "$3" "$BASE$4" >/dev/null
  local r
  r=$(taskset -c 1 wrk -t1 -c"$CONC" -d"${SECS}s" -s "$3" "$BASE$4" | awk '/Requests\/sec/ {print $2}')
  kill "$SERVE_PID"; while kill -0 "$SERVE_PID" 2>/dev/null; do sleep 0.05; done; SERVE_PID=""
  echo "$r"
}

# intro_lua SIDE BIN: a fresh token of SIDE's client to introspect, in intro_SIDE.lua.
intro_lua() {
  local pid token
  on "$1" env BIN="$2" bash -c '. scripts/services.sh; BASE='"$BASE"'; serve_pinned /dev/null; echo $SERVE_PID' > "$WORK/pid"
  pid=$(cat "$WORK/pid")
  token=$(curl -s -u "$(eval echo "\$CRED_$1")" -d grant_type=client_credentials "$BASE/token" | json_field access_token)
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  post_lua "$WORK/intro_$1.lua" "token=$token" "$(eval echo "\$RSCRED_$1")"
}

CC_A=(); CC_B=(); IN_A=(); IN_B=()
for i in $(seq 1 "$ROUNDS"); do
  intro_lua A "$OTHER"; intro_lua B "$NEW"
  # Alternate which binary goes first, so neither always meets a warmer machine.
  if [ $((i % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for side in $order; do
    bin=$([ "$side" = A ] && echo "$OTHER" || echo "$NEW")
    eval "CC_$side[$i]=\$(rps $side \"\$bin\" \"\$WORK/cc_$side.lua\" /token)"
    eval "IN_$side[$i]=\$(rps $side \"\$bin\" \"\$WORK/intro_$side.lua\" /introspect)"
  done
  log "round $i: client_credentials A ${CC_A[$i]}/s B ${CC_B[$i]}/s; introspection A ${IN_A[$i]}/s B ${IN_B[$i]}/s"
done

med() { python3 -c "import statistics,sys; a=sys.argv[1:]; n=len(a)//2; r=[float(x)/float(y) for x,y in zip(a[:n],a[n:])]; print(round(statistics.median(r),3), ' '.join(str(round(x,3)) for x in r))" "$@"; }
echo "Machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'). ${SECS}s per run, $CONC connections, $ROUNDS rounds."
echo "A = $OTHER, B = $NEW"
echo "client_credentials B/A: median, then each round: $(med "${CC_B[@]}" "${CC_A[@]}")"
echo "introspection      B/A: median, then each round: $(med "${IN_B[@]}" "${IN_A[@]}")"
