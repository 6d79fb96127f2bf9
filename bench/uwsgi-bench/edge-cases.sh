#!/usr/bin/env bash
# edge-cases.sh
#
# How the Emperor treats three problem vassals, each under its own fresh Emperor:
#   broken   a vassal file that is not a valid config (garbage text)
#   missing  a valid config whose wsgi-file does not exist
#   slow     a vassal whose app takes SLOW_START s (default 10) to import
# Reports spawn counts (new direct children of the Emperor) over each window,
# what HTTP clients see, and the Emperor's log lines about each vassal.
# Final figure: time from publishing the slow vassal until its first HTTP 200.
#
# Env: BROKEN_WATCH (20 s), MISSING_WATCH (12 s), SLOW_START (10 s), PORT_BASE,
#      EMPEROR_CMD, EMPEROR_ARGS.
source "$(dirname "$0")/lib/common.sh"

BROKEN_WATCH=${BROKEN_WATCH:-20}
MISSING_WATCH=${MISSING_WATCH:-12}
export SLOW_START=${SLOW_START:-10}
mapfile -t PORTS < <(free_ports "${PORT_BASE:-21600}" 3)

stop_emperor() {
  kill -INT "$EMP_PID" 2>/dev/null
  local i=0
  while kill -0 "$EMP_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  kill -0 "$EMP_PID" 2>/dev/null || untrack "$EMP_PID"   # still running: cleanup kills it
}
emperor_lines() {  # emperor_lines LOG NAME
  grep -a -E "\[emperor\].*$2|$2.*\[emperor\]|socket option is missing|failed to open|unable to load|no app loaded|ready in|throttl" "$1" \
    | sed -e 's/^/detail:   log: /' | head -"${3:-12}"
}

# --- broken config --------------------------------------------------------
D=$WORK/broken; mkdir -p "$D/vassals"
start_emperor "$D/vassals" "$D/emperor.log"
"${PROBE[@]}" watchkids --pid "$EMP_PID" --duration "$BROKEN_WATCH" > "$D/kids.log" &
wk=$!; track "$wk" TERM; sleep 0.2
t0=$(now)
printf 'this is not [an ini file\n%%%%garbage = \n' > "$D/vassals/.broken.tmp"
mv "$D/vassals/.broken.tmp" "$D/vassals/broken.$VASSAL_EXT"
wait "$wk"; untrack "$wk"
# kaiser bench change: count only spawns after publishing (kaiser's emperor has a
# helper child from the start, which watchkids reports as "spawn" at its first poll)
n=$(awk -v t0="$t0" '$1=="spawn" && $2>=t0 {n++} END{print n+0}' "$D/kids.log")
offs=$(awk -v t0="$t0" '$1=="spawn" && $2>=t0 {printf "%.2f ", $2-t0}' "$D/kids.log")
detail "broken: $n spawns in ${BROKEN_WATCH}s at (s after publish): $offs"
emperor_lines "$D/emperor.log" broken 14
metric edge_broken_spawns "$n" "spawns/${BROKEN_WATCH}s"
stop_emperor

# --- missing wsgi-file ---------------------------------------------------
D=$WORK/missing; mkdir -p "$D/vassals"
start_emperor "$D/vassals" "$D/emperor.log"
"${PROBE[@]}" watchkids --pid "$EMP_PID" --duration "$MISSING_WATCH" > "$D/kids.log" &
wk=$!; track "$wk" TERM; sleep 0.2
port=${PORTS[0]}
saved=$APP; APP=/nonexistent/app.py
stage_vassal "$D/vassals" missing "$(vassal_text missing "$port" 1)"
APP=$saved
t0=$(now)
publish_vassal "$D/vassals" missing
wait_accept "$port" 15; ta=$TACCEPT
sleep 0.5
run_wait "$D/get.txt" "${PROBE[@]}" get --port "$port" --timeout 5
res=$(awk '/^result/{print $2}' "$D/get.txt")
wait "$wk"; untrack "$wk"
n=$(awk -v t0="$t0" '$1=="spawn" && $2>=t0 {n++} END{print n+0}' "$D/kids.log")   # kaiser bench change, as above
detail "missing wsgi-file: port accepting after $(ms_between "$t0" "$ta") ms; a request gets: $res; $n spawn(s) in ${MISSING_WATCH}s"
emperor_lines "$D/emperor.log" missing
metric edge_missing_app_status "$res" http_status
stop_emperor

# --- slow start ----------------------------------------------------------
D=$WORK/slow; mkdir -p "$D/vassals"
start_emperor "$D/vassals" "$D/emperor.log"
port=${PORTS[1]}
saved=$APP; APP=$BENCH_DIR/slow.py
stage_vassal "$D/vassals" slow "$(vassal_text slow "$port" 1)"
APP=$saved
t0=$(now)
publish_vassal "$D/vassals" slow
wait_accept "$port" 30; ta=$TACCEPT
# one early request, sent as soon as the port accepts, with a long timeout
"${PROBE[@]}" get --port "$port" --timeout $((SLOW_START + 20)) > "$D/early.txt" &
gp=$!; track "$gp" TERM
wait_200 "$port" $((SLOW_START + 40)); t1=$T200
wait "$gp"; untrack "$gp"
er=$(awk '/^result/{print $2}' "$D/early.txt")
ee=$(awk '/^t_end/{print $2}' "$D/early.txt")
detail "slow ($SLOW_START s import): port accepting after $(ms_between "$t0" "$ta") ms; first 200 after $(ms_between "$t0" "$t1") ms"
detail "slow: a request sent when the port first accepted got '$er' after $(ms_between "$ta" "$ee") ms (queued in the listen backlog, not refused)"
emperor_lines "$D/emperor.log" slow
stop_emperor

detail "emperor: $EMPEROR_CMD $EMPEROR_ARGS"
figure edge_slow_first_200 "$(ms_between "$t0" "$t1")" ms
