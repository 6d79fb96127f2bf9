#!/usr/bin/env bash
# asgi.sh: ASGI servers side by side (kaiser, uvicorn, hypercorn, daphne); see bench/asgi.py for what is measured.
# Output also saved to bench/results/asgi.DATE.txt (OUT=FILE to choose). About 12 minutes with the defaults.
#   flock /work/bench.lock bench/asgi.sh
#   PARTS=throughput PROCESSES=2 RUNS=1 bench/asgi.sh
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/results/asgi.$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 "$HERE/asgi.py" "$@" 2>&1 | tee "$OUT"
exit "${PIPESTATUS[0]}"
