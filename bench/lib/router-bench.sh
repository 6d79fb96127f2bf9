# shellcheck shell=bash
# What bench/router.sh (plain HTTP) and bench/router-tls.sh (HTTPS) share, sourced by both as
# `. lib/router-bench.sh NAME` (router, router-tls):
#   - the settings both take from the environment (N, RUNS, DURATION, CONNECTIONS, THREADS, NODE), HOST (the Host
#     header wrk sends), the tools both need (wrk, nginx, a built kaiser), WORK (a scratch directory) and RAW
#     (bench/results/NAME.<timestamp>.txt);
#   - their processes: each started in its own process group (start), stopped by PID (stop_pid), all of them
#     killed at exit and WORK removed (the EXIT trap set here);
#   - the vassals kaiser routes to (route_vassals) and nginx's proxy configuration in front of the same ports
#     (nginx_conf), so both proxies see the same backends;
#   - measuring: a kaiser target and an nginx target alternated run by run with wrk, raw output appended to RAW,
#     medians printed as `figure:` lines and the two compared as `compare:` lines (measure_pair), with the CPU time
#     (user+system, from /proc) each proxy's whole process tree spent per request: a cost that, unlike req/s, does
#     not swing with what else the machine runs.
# Loopback only; nothing is killed by name.
set -u
export LC_ALL=C
# KAISER_ROOT: the kaiser checkout to run (bench/ab.py sets it to compare two builds with the same scripts)
ROOT=${KAISER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
N=${N:-4}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
NODE=${NODE:-node}
HOST=app1.example.test

command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "error: nginx not found (apt-get install -y nginx-light)" >&2; exit 2; }
[ -f "$ROOT/dist/router/router-process.js" ] || { echo "error: run npm run build first" >&2; exit 2; }

WORK=$(mktemp -d -t "kaiser-$1-bench.XXXXXX")
mkdir -p "$ROOT/bench/results"
RAW=$ROOT/bench/results/$1.$(date +%Y%m%d-%H%M%S).txt
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {   # start NAME CMD...: runs CMD in its own process group (setsid), output to $WORK/NAME.log; sets LAST_PID
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

stop_pid() {   # stop_pid PID: SIGTERM to its group, SIGKILL after 5 s
  kill -TERM -- "-$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null
}

raw_header() {   # raw_header WHAT [VERSIONS]: the first lines of RAW (the run's settings, versions, load)
  {
    echo "# $1"
    echo "# kaiser commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) node $($NODE --version) $("$NGINX" -v 2>&1) $(wrk --version 2>&1 | head -1)${2:+ $2}"
    echo "# nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$RAW"
}

# ── the backends ──────────────────────────────────────────────────────────────────────────
route_vassals() {   # route_vassals DIR PORT...: command vassals that run nothing, declaring appI.example.test at the I-th PORT
  local dir=$1 i=0 port; shift
  mkdir -p "$dir"
  for port in "$@"; do
    i=$((i + 1))
    printf 'exec = ["sleep", "100000"]\nready = "tcp://127.0.0.1:%s"\ndomain = "app%s.example.test"\n' "$port" "$i" >"$dir/app$i.toml"
  done
}

nginx_conf() {   # nginx_conf DIR WORKERS LISTEN HTTP_EXTRA PORT...: nginx proxying appI.example.test to the I-th PORT
  local conf=$1 workers=$2 listen=$3 extra=$4 i=0 port; shift 4
  mkdir -p "$conf"
  {
    echo "worker_processes $workers;"
    echo "pid $conf/nginx.pid;"
    echo "error_log $conf/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "  access_log off;"
    echo "  client_body_temp_path $conf/body; proxy_temp_path $conf/proxy;"
    echo "  fastcgi_temp_path $conf/fastcgi; uwsgi_temp_path $conf/uwsgi; scgi_temp_path $conf/scgi;"
    echo "  keepalive_requests 100000;"
    [ -z "$extra" ] || echo "$extra"
    for port in "$@"; do
      i=$((i + 1))
      echo "  upstream app$i { server 127.0.0.1:$port; keepalive 32; }"
      echo "  server {"
      echo "    listen $listen;"
      echo "    server_name app$i.example.test;"
      echo "    location / {"
      echo "      proxy_pass http://app$i;"
      echo "      proxy_http_version 1.1;"
      echo "      proxy_set_header Connection \"\";"
      echo "      proxy_set_header Host \$host;"
      echo "      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
      echo "      proxy_set_header X-Forwarded-Proto \$scheme;"
      echo "      proxy_set_header X-Forwarded-Host \$host;"
      echo "    }"
      echo "  }"
    done
    echo "}"
  } >"$conf/nginx.conf"
}

# ── measuring ─────────────────────────────────────────────────────────────────────────────
to_ms() {   # wrk latency (512.00us, 2.31ms, 1.02s, 1.00m) → ms
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS P99 CPU RUNS_RPS RUNS_P99 RUNS_CPU

tree_pids() {   # tree_pids PID: PID and all its descendants
  local pid child
  for pid in "$@"; do
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid"); do tree_pids "$child"; done
  done
}

cpu_ticks() {   # cpu_ticks PID: user+system clock ticks of PID's whole process tree (the proxy's master and workers)
  local total=0 pid t
  for pid in $(tree_pids "$1"); do
    t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) && total=$((total + ${t:-0}))
  done
  echo "$total"
}

warm() {   # warm URL: a short wrk run (JIT, connection pools)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Host: $HOST" "$1" >/dev/null 2>&1
}

# run_once TARGET URL RUN [PID]: one wrk run, raw output to RAW, its rps and p99 (and with PID, the µs of CPU PID's
# process tree spent per request) kept for TARGET
run_once() {
  local target=$1 url=$2 run=$3 pid=${4:-} out t0 t1 requests cpu=''
  [ -z "$pid" ] || t0=$(cpu_ticks "$pid")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "$url" 2>&1)
  if [ -n "$pid" ]; then
    t1=$(cpu_ticks "$pid")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="${requests:-0}" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}')
    RUNS_CPU[$target]+="$cpu "
  fi
  { echo; echo "## $target run $run (load $(cut -d' ' -f1-3 /proc/loadavg))${cpu:+ proxy cpu ${cpu}us/request}"; echo "$out"; } >>"$RAW"
  RUNS_RPS[$target]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
  RUNS_P99[$target]+="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") "
  if grep -q 'Non-2xx' <<<"$out"; then echo "warning: $target answered non-2xx: $(grep 'Non-2xx' <<<"$out")" >&2; fi
  if grep -q 'Socket errors' <<<"$out"; then echo "warning: $target: $(grep 'Socket errors' <<<"$out")" >&2; fi
}

report() {   # report FIGURE TARGET: medians of TARGET's runs as `figure: FIGURE_rps_TARGET` and `FIGURE_p99_TARGET`
  local figure=$1 target=$2
  RPS[$target]=$(tr ' ' '\n' <<<"${RUNS_RPS[$target]}" | grep . | median)
  P99[$target]=$(tr ' ' '\n' <<<"${RUNS_P99[$target]}" | grep . | median)
  echo "figure: ${figure}_rps_$target ${RPS[$target]} req/s"
  echo "figure: ${figure}_p99_$target ${P99[$target]} ms"
  if [ -n "${RUNS_CPU[$target]:-}" ]; then
    CPU[$target]=$(tr ' ' '\n' <<<"${RUNS_CPU[$target]}" | grep . | median)
    echo "figure: ${figure}_cpu_$target ${CPU[$target]} us/request"
  fi
  echo "detail: $target runs rps=${RUNS_RPS[$target]}p99_ms=${RUNS_P99[$target]}${RUNS_CPU[$target]:+cpu_us=${RUNS_CPU[$target]}}"
}

# measure_pair FIGURE K K_PID K_URL N N_PID N_URL: both warmed, RUNS runs alternated (K, N, K, N …), both stopped,
# then their figures and `compare: FIGURE_rps K=… N=… ratio=K/N` (and p99)
measure_pair() {
  local figure=$1 k=$2 kpid=$3 kurl=$4 n=$5 npid=$6 nurl=$7 run
  warm "$kurl"
  warm "$nurl"
  for run in $(seq "$RUNS"); do
    run_once "$k" "$kurl" "$run" "$kpid"
    run_once "$n" "$nurl" "$run" "$npid"
  done
  stop_pid "$kpid"
  stop_pid "$npid"
  report "$figure" "$k"
  report "$figure" "$n"
  echo "compare: ${figure}_rps $k=${RPS[$k]} $n=${RPS[$n]} ratio=$(awk -v a="${RPS[$k]}" -v b="${RPS[$n]}" 'BEGIN {printf "%.2f", a / b}')"
  echo "compare: ${figure}_p99_ms $k=${P99[$k]} $n=${P99[$n]} ratio=$(awk -v a="${P99[$k]}" -v b="${P99[$n]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
  echo "compare: ${figure}_cpu_us_per_request $k=${CPU[$k]} $n=${CPU[$n]} ratio=$(awk -v a="${CPU[$k]}" -v b="${CPU[$n]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
}
