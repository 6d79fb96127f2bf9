#!/usr/bin/env bash
# router.sh: kaiser's front router (--emperor-http: the router processes, src/router/) against Debian nginx, in front
# of the same vassals, side by side in one run.
#
# Starts N hello vassals on loopback (kaiser app servers running bench/uwsgi-bench/hitme.py with 1 process; or
# BACKEND=python, Python's ThreadingHTTPServer; or BACKEND=node, a Node http hello), then puts in front of them, one after the other:
#   direct   no proxy: wrk straight at app1's port (the ceiling)
#   kaiser   an emperor with --emperor-http and --emperor-http-processes P over vassal files app1..appN.example.test
#            pointing at those ports (command vassals that run nothing: the router only needs their addresses)
#   nginx    nginx with one server block per app (server_name), upstream { server …; keepalive 32; },
#            proxy_http_version 1.1, proxy_set_header Connection "" with worker_processes P
# for each P in PROCESSES ("1 auto"), both running at once and measured alternately (kaiser run 1, nginx run 1,
# kaiser run 2 …) with `wrk -t2 -c64 -d10s --latency -H 'Host: app1.example.test'`, RUNS times each, median kept.
#
# Prints
#   figure: router_rps_<target> X req/s       figure: router_p99_<target> Y ms
#   compare: router_rps kaiser=X nginx_wN=Y ratio=X/Y    (and the same for p99)
# and saves every raw wrk output to bench/results/router.<timestamp>.txt.
#
# Env: N (4)  RUNS (3)  DURATION (10s)  CONNECTIONS (64)  THREADS (2)  BACKEND (kaiser|python|node)
#      PROCESSES ("1 auto")  NODE (node)  TLS (1: then bench/router-tls.sh's HTTPS rows, same vassals)
# Loopback only. Kills only the processes it started, by PID (each in its own process group).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-4}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BACKEND=${BACKEND:-kaiser}
PROCESSES=${PROCESSES:-"1 auto"}
NODE=${NODE:-node}
HOST=app1.example.test

command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "error: nginx not found (apt-get install -y nginx-light)" >&2; exit 2; }
[ -f "$ROOT/dist/router/router-process.js" ] || { echo "error: run npm run build first" >&2; exit 2; }

WORK=$(mktemp -d -t kaiser-router-bench.XXXXXX)
mkdir -p "$ROOT/bench/results"
RAW=$ROOT/bench/results/router.$(date +%Y%m%d-%H%M%S).txt
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

# start NAME CMD...: runs CMD in its own process group (setsid), output to $WORK/NAME.log; sets LAST_PID.
start() {
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

wait_http() {   # wait_http PORT [HOST]: until a request answers (any status), at most 20 s
  for _ in $(seq 200); do
    curl -s -o /dev/null -m 1 -H "Host: ${2:-localhost}" "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "error: nothing answers on 127.0.0.1:$1" >&2; return 1
}

stop_pid() {
  kill -TERM -- "-$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null
}

# ── vassals ────────────────────────────────────────────────────────────────────────────────
PORTS=()
cat >"$WORK/hello.py" <<'EOF'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hello(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        body = b'Hello World'
        self.send_response(200)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Hello).serve_forever()
EOF
for i in $(seq "$N"); do
  port=$(free_port)
  PORTS+=("$port")
  case $BACKEND in
    kaiser) start "app$i" "$NODE" "$ROOT/bin/kaiser.js" --http-socket "127.0.0.1:$port" --wsgi-file "$ROOT/bench/uwsgi-bench/hitme.py" --processes 1 ;;
    python) start "app$i" python3 "$WORK/hello.py" "$port" ;;
    node) start "app$i" "$NODE" -e "require('http').createServer((q, s) => s.writeHead(200, {'content-type': 'text/html', 'content-length': 11}).end('Hello World')).listen($port, '127.0.0.1')" ;;
    *) echo "error: BACKEND is kaiser, python or node" >&2; exit 2 ;;
  esac
done
for port in "${PORTS[@]}"; do wait_http "$port" || exit 1; done

{
  echo "# router.sh $(date -Is) N=$N RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS BACKEND=$BACKEND"
  echo "# kaiser commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) node $($NODE --version) $("$NGINX" -v 2>&1) $(wrk --version 2>&1 | head -1)"
  echo "# nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RAW"

# ── measuring ──────────────────────────────────────────────────────────────────────────────
to_ms() {   # wrk latency (512.00us, 2.31ms, 1.02s, 1.00m) → ms
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS P99 RUNS_RPS RUNS_P99
warm() {   # warm PORT: a short wrk run (JIT, connection pools)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Host: $HOST" "http://127.0.0.1:$1/" >/dev/null 2>&1
}
run_once() {   # run_once TARGET PORT RUN
  local target=$1 port=$2 run=$3 out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "http://127.0.0.1:$port/" 2>&1)
  { echo; echo "## $target run $run (load $(cut -d' ' -f1-3 /proc/loadavg))"; echo "$out"; } >>"$RAW"
  RUNS_RPS[$target]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
  RUNS_P99[$target]+="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") "
  if grep -q 'Non-2xx' <<<"$out"; then echo "warning: $target answered non-2xx: $(grep 'Non-2xx' <<<"$out")" >&2; fi
  if grep -q 'Socket errors' <<<"$out"; then echo "warning: $target: $(grep 'Socket errors' <<<"$out")" >&2; fi
}
report() {   # report TARGET: medians of its runs
  local target=$1
  RPS[$target]=$(tr ' ' '\n' <<<"${RUNS_RPS[$target]}" | grep . | median)
  P99[$target]=$(tr ' ' '\n' <<<"${RUNS_P99[$target]}" | grep . | median)
  echo "figure: router_rps_$target ${RPS[$target]} req/s"
  echo "figure: router_p99_$target ${P99[$target]} ms"
  echo "detail: $target runs rps=${RUNS_RPS[$target]}p99_ms=${RUNS_P99[$target]}"
}

warm "${PORTS[0]}"
for run in $(seq "$RUNS"); do run_once direct "${PORTS[0]}" "$run"; done
report direct

# kaiser's router: an emperor whose vassals only declare the domains and addresses (the apps above are the backends)
VDIR=$WORK/vassals
mkdir -p "$VDIR"
for i in $(seq "$N"); do
  printf 'exec = ["sleep", "100000"]\nready = "tcp://127.0.0.1:%s"\ndomain = "app%s.example.test"\n' "${PORTS[$((i - 1))]}" "$i" >"$VDIR/app$i.toml"
done

nginx_conf() {   # nginx_conf DIR WORKERS PORT
  local conf=$1 workers=$2 nport=$3
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
    for i in $(seq "$N"); do
      echo "  upstream app$i { server 127.0.0.1:${PORTS[$((i - 1))]}; keepalive 32; }"
      echo "  server {"
      echo "    listen 127.0.0.1:$nport;"
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

for procs in $PROCESSES; do
  k=kaiser_p$procs
  n=nginx_w$procs
  rport=$(free_port)
  start "$k" "$NODE" "$ROOT/bin/kaiser.js" --emperor "$VDIR" --emperor-http "127.0.0.1:$rport" --emperor-http-processes "$procs" --control "$WORK/control-$procs.sock"
  ROUTER_PID=$LAST_PID
  wait_http "$rport" "$HOST" || { cat "$WORK/$k.log" >&2; exit 1; }
  for _ in $(seq 100); do [ "$(curl -s -H "Host: $HOST" "http://127.0.0.1:$rport/")" = "Hello World" ] && break; sleep 0.1; done
  [ "$(curl -s -H "Host: $HOST" "http://127.0.0.1:$rport/")" = "Hello World" ] || { echo "error: router does not route $HOST" >&2; cat "$WORK/$k.log" >&2; exit 1; }
  nport=$(free_port)
  nginx_conf "$WORK/nginx-$procs" "$procs" "$nport"
  start "$n" "$NGINX" -p "$WORK/nginx-$procs" -c "$WORK/nginx-$procs/nginx.conf" -g 'daemon off;'
  NGINX_PID=$LAST_PID
  wait_http "$nport" "$HOST" || { cat "$WORK/$n.log" "$WORK/nginx-$procs/error.log" >&2; exit 1; }
  warm "$rport"
  warm "$nport"
  for run in $(seq "$RUNS"); do
    run_once "$k" "$rport" "$run"
    run_once "$n" "$nport" "$run"
  done
  stop_pid "$ROUTER_PID"
  stop_pid "$NGINX_PID"
  report "$k"
  report "$n"
  echo "compare: router_rps $k=${RPS[$k]} $n=${RPS[$n]} ratio=$(awk -v a="${RPS[$k]}" -v b="${RPS[$n]}" 'BEGIN {printf "%.2f", a / b}')"
  echo "compare: router_p99_ms $k=${P99[$k]} $n=${P99[$n]} ratio=$(awk -v a="${P99[$k]}" -v b="${P99[$n]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
done
echo "raw: $RAW"

# TLS rows, side by side in the same run and in front of the same vassals (bench/router-tls.sh; TLS=0 skips them)
if [ "${TLS:-1}" = 1 ]; then
  PORTS=$(IFS=,; echo "${PORTS[*]}") RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS \
    PROCESSES=$PROCESSES NODE=$NODE bash "$HERE/router-tls.sh"
fi
