#!/usr/bin/env bash
# emperor-output.sh [RATE] [SECONDS]
#
# What a vassal's output costs the emperor: a command vassal prints RATE request-log-like lines a second (default
# 1500, inside the per-vassal output budget) for SECONDS (6), then a second run prints 100 lines a second; the
# emperor's CPU time (utime + stime from /proc/PID/stat) over each run, and the marginal cost per line
#   (ticks(RATE) - ticks(100)) / (lines(RATE) - lines(100)),
# which takes out what the emperor spends anyway (accounting ticks, start-up of the vassal). ROUNDS (3) rounds,
# alternating, median printed as `figure: emperor_us_per_output_line`. Kaiser under test: KAISER_ROOT (this repo).
# Compare two checkouts with bench/ab.py.  Time: about 15 s per round.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${KAISER_ROOT:-$(cd "$HERE/.." && pwd)}
RATE=${1:-1500}; SECS=${2:-6}; ROUNDS=${ROUNDS:-3}
HZ=$(getconf CLK_TCK)

one() {  # one RATE -> "LINES TICKS"
  local rate=$1 d pid c0 c1 n
  d=$(mktemp -d); mkdir "$d/v"
  cat > "$d/p.py" <<PY
import sys, time
t0 = time.time(); n = 0
while time.time() - t0 < $SECS:
    for i in range(max(1, $rate // 100)):
        sys.stdout.write('GET /some/path/%d => generated 11 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 64 bytes\n' % n); n += 1
    sys.stdout.flush(); time.sleep(0.01)
print('DONE', n, flush=True)
time.sleep(600)
PY
  printf 'exec = ["/usr/bin/python3", "%s"]\n' "$d/p.py" > "$d/v/x.toml"
  node "$ROOT/bin/kaiser.js" --emperor "$d/v" --control "$d/ctl.sock" > "$d/emp.log" 2>&1 &
  pid=$!
  ticks() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
  for _ in $(seq 400); do grep -q "spawned" "$d/emp.log" && break; sleep 0.05; done
  c0=$(ticks)
  for _ in $(seq 800); do grep -q "DONE" "$d/emp.log" && break; sleep 0.05; done
  c1=$(ticks)
  n=$(grep -c "GET /some" "$d/emp.log")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null; rm -rf "$d"
  echo "$n $((c1 - c0))"
}

costs=()
for r in $(seq "$ROUNDS"); do
  read -r nh th < <(one "$RATE")
  read -r nl tl < <(one 100)
  us=$(awk -v th="$th" -v tl="$tl" -v nh="$nh" -v nl="$nl" -v hz="$HZ" 'BEGIN { d = nh - nl; printf "%.1f", (d > 0 ? (th - tl) * 1e6 / hz / d : -1) }')
  echo "detail: round $r: $nh lines at $RATE/s -> $th ticks, $nl lines at 100/s -> $tl ticks: $us us per line (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  costs+=("$us")
done
median=$(printf '%s\n' "${costs[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo "figure: emperor_us_per_output_line $median us"
