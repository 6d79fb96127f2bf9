#!/usr/bin/env bash
# emperor-idle-cpu.sh [N]   (default 100)
#
# What an idle kaiser emperor costs with N vassals and accounting on.
#
# kaiser: N command vassals, each `/usr/bin/python3 -I -S -c "import time; time.sleep(10**9)"`
#   (IDLE_VASSAL=sleep, default; ready = the default "running for 1 s") or the tiny
#   HTTP server apps/tiny_http.py (IDLE_VASSAL=http, ready = tcp://), published at once
#   into the watched dir of `node bin/kaiser.js --emperor DIR --emperor-accounting-freq 2
#   --emperor-stats 127.0.0.1:PORT`.  Once all N vassal processes run: SETTLE s (5), then
#   over IDLE s (30) the emperor process's own CPU from /proc/PID/stat:
#     self   = utime+stime delta (all threads of the node process)
#     reaped = cutime+cstime delta (children it waited for in the window, e.g. helpers;
#              the long-lived vassals do not count here)
#   as % of one core, plus its RSS and the whole tree's RSS.  The stats JSON is read once
#   to show accounting is really filling cpu/rss.  The vassal pids are compared before and
#   after, so a respawn loop cannot pass as "idle".  Then the same with accounting off
#   (--emperor-accounting-freq 0) to show what accounting itself costs (NOACCT=0 skips).
#
# uWSGI, for orientation only (a different thing: N app-server vassals = master+worker
#   each, no per-vassal accounting): uwsgi-bench/mass-vassals.sh N, which reports the
#   uWSGI emperor's idle CPU and RSS the same way (UWSGI=0 skips).
#
# Target: kaiser emperor <= 1 % of one core with 100 vassals (accounting on).
# Final figure: kaiser_emperor_idle_cpu_nN (accounting on, self), % of one core.
#
# Env: IDLE_VASSAL (sleep|http), ACCOUNTING_FREQ (2), SETTLE (5), IDLE (30), NOACCT (1),
#      UWSGI (1), KAISER_ROOT, PORT_BASE (23000).  Takes about 2.5 min (+1.5 min for the
#      uWSGI orientation run) with N=100.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/kaiser.sh
source "$HERE/lib/kaiser.sh"
# shellcheck source=uwsgi-bench/lib/common.sh
source "$UB/lib/common.sh"     # WORK, track/cleanup, start_emperor, PROBE, metric/figure

N=${1:-${N:-100}}
IDLE_VASSAL=${IDLE_VASSAL:-sleep}
ACCOUNTING_FREQ=${ACCOUNTING_FREQ:-2}
SETTLE=${SETTLE:-5}
IDLE=${IDLE:-30}
NOACCT=${NOACCT:-1}
UWSGI=${UWSGI:-1}
TARGET=1.0
case $IDLE_VASSAL in sleep|http) ;; *) die "IDLE_VASSAL must be sleep or http" ;; esac
MARK=kaiser-bench-idle
HZ=$(getconf CLK_TCK)

# stat_ticks PID -> "utime+stime cutime+cstime"
stat_ticks() { awk '{sub(/.*\) /,""); print $12+$13, $14+$15}' "/proc/$1/stat"; }
# marker pids (sorted) of the vassal programs under the emperor
vassal_pids() {
  local p
  for p in $("${PROBE[@]}" tree --pid "$EMP_PID"); do
    tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -e "$MARK" -e "$TINY_HTTP" && echo "$p"
  done | sort -n
}
stop_emperor() {
  kill -INT "$EMP_PID" 2>/dev/null
  local i=0
  while kill -0 "$EMP_PID" 2>/dev/null && [ $i -lt $((STOP_GRACE * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  kill -0 "$EMP_PID" 2>/dev/null || untrack "$EMP_PID"   # still running: cleanup kills it
  detail "emperor stopped after SIGINT in $((i * 100)) ms (all $N vassals)"
}

measure_kaiser() {  # measure_kaiser ACCOUNTING_FREQ LABEL
  local acc=$1 label=$2 d=$WORK/$2 i port t0 t1 n pids0 pids1 a b self reaped m erss trss wall stats_port
  mkdir -p "$d/vassals" "$d/stage"
  free_ports "${PORT_BASE:-23000}" "$((N + 1))" > "$d/ports"
  [ "$(wc -l < "$d/ports")" -eq $((N + 1)) ] || die "not enough free ports"
  stats_port=$(head -1 "$d/ports")
  i=0
  tail -n +2 "$d/ports" | while read -r port; do
    i=$((i + 1))
    if [ "$IDLE_VASSAL" = sleep ]; then
      printf 'exec = ["/usr/bin/python3", "-I", "-S", "-c", "import time; time.sleep(10**9)", "%s-%d"]\n' "$MARK" "$i"
    else
      sed -e "s|@PORT@|$port|g" -e "s|@APP@|$TINY_HTTP|g" "$CMD_VASSAL_TEMPLATE"
    fi > "$d/stage/idle$i.toml"
  done
  tail -n +2 "$d/ports" > "$d/vports"
  EMPEROR_CMD=$KAISER_EMPEROR_CMD
  EMPEROR_ARGS="--emperor-accounting-freq $acc --emperor-stats 127.0.0.1:$stats_port"
  start_emperor "$d/vassals" "$d/emperor.log"
  m=$("${PROBE[@]}" mem --pid "$EMP_PID")
  detail "[$label] emperor RSS before vassals: $(echo "$m" | awk '/^root_rss_kb/{print $2}') kB; command: $EMPEROR_CMD $EMPEROR_ARGS"
  t0=$(now)
  mv -t "$d/vassals" "$d/stage"/*.toml
  # wait until all N vassal programs run (and, for http, answer)
  n=0
  while [ "$(ms_between "$t0" "$(now)" | cut -d. -f1)" -lt $(( (60 + N) * 1000 )) ]; do
    n=$(vassal_pids | wc -l)
    [ "$n" -ge "$N" ] && break
    kill -0 "$EMP_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ "$n" -lt "$N" ]; then
    detail "[$label] only $n of $N vassal processes running"
    tail -15 "$d/emperor.log" | sed "s/^/detail: [$label] log: /"
    return 1
  fi
  if [ "$IDLE_VASSAL" = http ]; then
    run_wait "$d/waitall" "${PROBE[@]}" waitall --ports-file "$d/vports" --timeout 60 || { detail "[$label] not all ports answer"; return 1; }
  fi
  t1=$(now)
  detail "[$label] all $N vassal processes running after $(ms_between "$t0" "$t1") ms"
  run_wait /dev/null sleep "$SETTLE"
  pids0=$(vassal_pids | paste -sd,)
  a=$(stat_ticks "$EMP_PID"); t0=$(now)
  run_wait "$d/cpu" "${PROBE[@]}" cpu --pid "$EMP_PID" --duration "$IDLE"
  b=$(stat_ticks "$EMP_PID"); t1=$(now)
  pids1=$(vassal_pids | paste -sd,)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  self=$(awk -v a="${a% *}" -v b="${b% *}" -v hz="$HZ" -v w="$wall" 'BEGIN{printf "%.3f", 100*(b-a)/hz/w}')
  reaped=$(awk -v a="${a#* }" -v b="${b#* }" -v hz="$HZ" -v w="$wall" 'BEGIN{printf "%.3f", 100*(b-a)/hz/w}')
  m=$("${PROBE[@]}" mem --pid "$EMP_PID")
  erss=$(echo "$m" | awk '/^root_rss_kb/{print $2}')
  trss=$(echo "$m" | awk '/^tree_rss_kb/{printf "%.1f", $2/1024}')
  detail "[$label] emperor cpu over ${wall}s: $(awk -v a="${a% *}" -v b="${b% *}" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}') s self, $(awk -v a="${a#* }" -v b="${b#* }" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}') s reaped children; probe.py cpu: $(tr '\n' ' ' < "$d/cpu")"
  if [ "$pids0" = "$pids1" ]; then detail "[$label] vassal pids unchanged over the window ($N processes)"
  else detail "[$label] WARNING vassal pids changed during the window (respawns?)"; fi
  if [ "$acc" != 0 ]; then
    "$PYTHON" - "$stats_port" > "$d/stats.txt" 2>&1 <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
except OSError:
    pass
buf = b""
while True:
    try:
        c = s.recv(65536)
    except OSError:
        break
    if not c:
        break
    buf += c
i = buf.find(b"{")
d = json.loads(buf[i:])
v = d.get("vassals", [])
print("vassals %d with_rss %d with_cpu_seconds %d" % (len(v), sum(1 for x in v if x.get("rss")), sum(1 for x in v if x.get("cpu_seconds"))))
PY
    detail "[$label] stats JSON (accounting fields filled): $(tr '\n' ' ' < "$d/stats.txt")"
  fi
  metric "kaiser_emperor_idle_cpu_${label}_n$N" "$self" "%_of_one_core(${IDLE}s)"
  metric "kaiser_emperor_reaped_children_cpu_${label}_n$N" "$reaped" "%_of_one_core(${IDLE}s)"
  metric "kaiser_tree_idle_cpu_${label}_n$N" "$(awk '/^tree_cpu_percent/{print $2}' "$d/cpu")" "%_of_one_core(${IDLE}s)"
  metric "kaiser_emperor_rss_${label}_n$N" "$erss" kB
  metric "kaiser_tree_rss_${label}_n$N" "$trss" MiB
  stop_emperor
  RESULT=$self
}

detail "$(kaiser_describe)"
detail "N=$N IDLE_VASSAL=$IDLE_VASSAL accounting-freq=$ACCOUNTING_FREQ SETTLE=${SETTLE}s IDLE=${IDLE}s CLK_TCK=$HZ cpus=$(nproc) loadavg=$(cut -d" " -f1-3 /proc/loadavg)"
KAISER_ON=FAILED
if measure_kaiser "$ACCOUNTING_FREQ" acct; then KAISER_ON=$RESULT; fi
if [ "$NOACCT" = 1 ]; then measure_kaiser 0 noacct || detail "[noacct] run failed"; fi

if [ "$UWSGI" = 1 ]; then
  detail "uWSGI orientation: $UB/mass-vassals.sh $N (app-server vassals: master + 1 worker each)"
  env -u EMPEROR_CMD -u EMPEROR_ARGS -u VASSAL_TEMPLATE -u VASSAL_EXT -u APP SETTLE="$SETTLE" IDLE="$IDLE" \
    "$UB/mass-vassals.sh" "$N" > "$WORK/uwsgi-mass.out" 2> "$WORK/uwsgi-mass.err" &
  up=$!; track "$up" TERM; wait "$up"; untrack "$up"
  grep -E '^(detail|metric|figure): ' "$WORK/uwsgi-mass.out" | sed 's/^/uwsgi /'
fi

if [ "$KAISER_ON" = FAILED ]; then
  detail "verdict: kaiser run failed, no figure"
  figure "kaiser_emperor_idle_cpu_n$N" FAILED "%_of_one_core"
  exit 1
fi
detail "verdict: kaiser emperor idle CPU with $N vassals, accounting every ${ACCOUNTING_FREQ}s: $KAISER_ON % of one core; target <= $TARGET %: $(awk -v x="$KAISER_ON" -v t="$TARGET" 'BEGIN{print (x <= t) ? "MET" : "NOT MET"}')"
figure "kaiser_emperor_idle_cpu_n$N" "$KAISER_ON" "%_of_one_core(${IDLE}s)"
