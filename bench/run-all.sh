#!/usr/bin/env bash
# run-all.sh [OUTFILE]
#
# Runs the whole kaiser bench, uWSGI and kaiser side by side, and writes everything to
# OUTFILE (default bench/results/run-all.YYYYmmdd-HHMMSS.txt), then prints the summary
# (figure/metric/compare lines and the emperor-core table).
#
#   1. emperor-core.sh                        deploy/remove/crash/crash1, 4 variants ~7 min
#   2. emperor-idle-cpu.sh 100                kaiser idle CPU (+ uWSGI orientation)  ~2 min
#   3. compare.sh hello-throughput.sh socket  standalone --http-socket (wrk keep-alive) ~1 min
#   9. same with wrk -s lib/wrk-close.lua     "Connection: close": a new connection per
#                                             request on both sides (uWSGI's http-socket
#                                             closes after every response anyway)    ~1 min
#   4. compare.sh hello-throughput.sh router  uWSGI --http router vs kaiser --http  ~1 min
#   5. compare.sh mass-vassals.sh 50          50 ini vassals at once                ~1.5 min
#   6. compare.sh reload-under-load.sh config touch the vassal file under load      ~1.5 min
#   7. compare.sh reload-under-load.sh chain  touch-chain-reload under load         ~1.5 min
#   8. compare.sh edge-cases.sh               broken / missing app / slow start     ~1.5 min
#
# About 19 minutes in all on the 2-CPU VM where results/ were recorded (steps 1-8 without
# crash1 took 929 s; crash1 and step 9 add ~3 min).  ONLY="1 3" runs a subset by number.
# The kaiser under test is KAISER_ROOT (default: this repo).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/results/run-all.$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
ONLY=${ONLY:-"1 2 3 9 4 5 6 7 8"}
CHILD=""
trap 'trap - INT TERM; [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null; exit 130' INT TERM
: > "$OUT"
T0=$SECONDS
step() {  # step NUMBER LABEL CMD...
  local n=$1 label=$2 t=$SECONDS; shift 2
  [[ " $ONLY " == *" $n "* ]] || return 0
  echo "=== $n $label: $* ($(date +%T), loadavg $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$OUT"
  "$@" >> "$OUT" 2>&1 &
  CHILD=$!; wait "$CHILD"; echo "=== $n $label: exit $? after $((SECONDS - t)) s" | tee -a "$OUT"; CHILD=""
  echo >> "$OUT"
}
step 1 emperor-core "$HERE/emperor-core.sh"
step 2 idle-cpu "$HERE/emperor-idle-cpu.sh" 100
step 3 hello-socket "$HERE/compare.sh" hello-throughput.sh socket
step 9 hello-socket-close env WRK_ARGS="-t2 -c64 -d10s -s $HERE/lib/wrk-close.lua" "$HERE/compare.sh" hello-throughput.sh socket
step 4 hello-router "$HERE/compare.sh" hello-throughput.sh router
step 5 mass-50 "$HERE/compare.sh" mass-vassals.sh 50
step 6 reload-config "$HERE/compare.sh" reload-under-load.sh config
step 7 reload-chain "$HERE/compare.sh" reload-under-load.sh chain
step 8 edge-cases "$HERE/compare.sh" edge-cases.sh
echo "=== total: $((SECONDS - T0)) s" | tee -a "$OUT"
echo "=== summary" | tee -a "$OUT"
grep -E '^(compare: |\| )|(figure|metric): |FAILED|verdict' "$OUT" | tee -a "$OUT.summary"
echo "full output: $OUT (summary: $OUT.summary)"
