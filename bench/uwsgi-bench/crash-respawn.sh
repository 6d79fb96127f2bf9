#!/usr/bin/env bash
# crash-respawn.sh [respawn|throttle|both]   (default both)
#
# respawn:  a healthy vassal's top process (the Emperor's direct child, i.e. the
#           uWSGI master) is killed with SIGKILL.  Measured: time from the kill
#           until its old processes are gone and the port answers 200 again
#           (a 200 is only accepted once the old processes are gone).  Median of
#           TRIALS (default 5).
# throttle: a vassal whose app exits immediately on start (crash.py) is deployed;
#           every new direct child of the Emperor is logged for WATCH s (default
#           60) to show how respawns are spaced (throttling).
#
# Final figure: crash_respawn (median ms) in respawn/both mode, or
# crash_spawns_in_window (count) in throttle mode.
# Env: TRIALS, WATCH, CRASH_APP (default crash.py), PORT_BASE, EMPEROR_CMD, EMPEROR_ARGS.
source "$(dirname "$0")/lib/common.sh"

MODE=${1:-${MODE:-both}}
TRIALS=${TRIALS:-5}
WATCH=${WATCH:-60}
CRASH_APP=${CRASH_APP:-$BENCH_DIR/crash.py}
case $MODE in respawn|throttle|both) ;; *) die "mode must be respawn, throttle or both";; esac

VDIR=$WORK/vassals
mkdir -p "$VDIR"
start_emperor "$VDIR" "$WORK/emperor.log"
mapfile -t PORTS < <(free_ports "${PORT_BASE:-21400}" 2)

if [ "$MODE" != throttle ]; then
  port=${PORTS[0]}
  name=crashme
  stage_vassal "$VDIR" "$name" "$(vassal_text "$name" "$port" 1)"
  publish_vassal "$VDIR" "$name"
  wait_200 "$port" 30 || die "vassal did not come up"
  samples=() dead_ms=()
  for i in $(seq 1 "$TRIALS"); do
    sleep 1.5
    # kaiser bench change: the vassal's top process is found through its listening
    # socket (probe.py vassaltop); the original `children "$EMP_PID" | head -1` picked
    # kaiser's own helper child (a /bin/sh reaper) instead of the vassal.
    master=$("${PROBE[@]}" vassaltop --pid "$EMP_PID" --port "$port")
    [ -n "$master" ] || die "no vassal process found under the emperor"
    pids=$("${PROBE[@]}" tree --pid "$master" | tr ' ' ',')
    t0=$(now)
    kill -KILL "$master"
    run_wait "$WORK/gone" "${PROBE[@]}" waitgone --port 0 --pids "$pids" --timeout 30 || die "old vassal processes did not exit"
    td=$(awk '/^procs_gone/{print $2}' "$WORK/gone")
    wait_200 "$port" 60 || { tail -30 "$WORK/emperor.log" >&2; die "vassal not serving again after kill"; }
    t1=$T200
    newmaster=$("${PROBE[@]}" vassaltop --pid "$EMP_PID" --port "$port")
    samples+=("$(ms_between "$t0" "$t1")")
    dead_ms+=("$(ms_between "$t0" "$td")")
    detail "trial $i: killed $master (tree $pids); old tree gone after ${dead_ms[-1]} ms; serving again after ${samples[-1]} ms (new top pid $newmaster)"
  done
  rm -f "$VDIR/$name.$VASSAL_EXT"
  detail "respawn_ms: ${samples[*]}"
  metric crash_old_tree_gone "$(median "${dead_ms[@]}")" ms
  RESPAWN=$(median "${samples[@]}")
  metric crash_respawn "$RESPAWN" ms
  wait_down "$port" 20
fi

if [ "$MODE" != respawn ]; then
  port=${PORTS[1]}
  name=crashloop
  saved_app=$APP; APP=$CRASH_APP
  stage_vassal "$VDIR" "$name" "$(vassal_text "$name" "$port" 1)"
  APP=$saved_app
  sleep 1
  # only spawns after publishing count; the healthy vassal is gone by now
  "${PROBE[@]}" watchkids --pid "$EMP_PID" --duration "$WATCH" > "$WORK/kids.log" &
  wk=$!; track "$wk" TERM
  sleep 0.2
  t0=$(now)
  publish_vassal "$VDIR" "$name"
  wait "$wk"; untrack "$wk"
  # kaiser bench change: only spawns at or after publishing count (as the comment
  # above says); watchkids reports children that already exist as "spawn" at its
  # first poll, and kaiser's emperor has a helper child from the start.  (uWSGI has
  # no child at that point, so its figures are unchanged.)
  offs=$(awk -v t0="$t0" '$1=="spawn" && $2>=t0 {printf "%.2f ", $2-t0}' "$WORK/kids.log")
  n=$(awk -v t0="$t0" '$1=="spawn" && $2>=t0 {n++} END{print n+0}' "$WORK/kids.log")
  gaps=$(awk -v t0="$t0" '$1=="spawn" && $2>=t0 { if (p) printf "%.2f ", $2-p; p=$2 }' "$WORK/kids.log")
  detail "crash-loop vassal: $n spawns in ${WATCH}s; spawn offsets (s after publish): $offs"
  detail "intervals between spawns (s): $gaps"
  grep -a -E 'throttl|bad behaving|maximum throttle' "$WORK/emperor.log" | sed 's/^/detail: emperor log: /' | head -20
  metric crash_spawns_in_window "$n" "spawns/${WATCH}s"
  rm -f "$VDIR/$name.$VASSAL_EXT"
fi

detail "emperor: $EMPEROR_CMD $EMPEROR_ARGS"
if [ "$MODE" = throttle ]; then
  figure crash_spawns_in_window "$n" "spawns/${WATCH}s"
else
  figure crash_respawn "$RESPAWN" ms
fi
