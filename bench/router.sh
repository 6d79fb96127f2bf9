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
HERE=$(cd "$(dirname "$0")" && pwd)
BACKEND=${BACKEND:-kaiser}
PROCESSES=${PROCESSES:-"1 auto"}
# settings, tools, scratch directory and raw file, processes, backends, nginx's configuration, measuring: shared
# with router-tls.sh
. "$HERE/lib/router-bench.sh" router

wait_http() {   # wait_http PORT [HOST]: until a request answers (any status), at most 20 s
  for _ in $(seq 200); do
    curl -s -o /dev/null -m 1 -H "Host: ${2:-localhost}" "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "error: nothing answers on 127.0.0.1:$1" >&2; return 1
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

raw_header "router.sh $(date -Is) N=$N RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS BACKEND=$BACKEND"

# ── measuring ──────────────────────────────────────────────────────────────────────────────
DIRECT=http://127.0.0.1:${PORTS[0]}/
warm "$DIRECT"
for run in $(seq "$RUNS"); do run_once direct "$DIRECT" "$run"; done
report router direct

# kaiser's router: an emperor whose vassals only declare the domains and addresses (the apps above are the backends)
VDIR=$WORK/vassals
route_vassals "$VDIR" "${PORTS[@]}"

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
  nginx_conf "$WORK/nginx-$procs" "$procs" "127.0.0.1:$nport" "" "${PORTS[@]}"
  start "$n" "$NGINX" -p "$WORK/nginx-$procs" -c "$WORK/nginx-$procs/nginx.conf" -g 'daemon off;'
  NGINX_PID=$LAST_PID
  wait_http "$nport" "$HOST" || { cat "$WORK/$n.log" "$WORK/nginx-$procs/error.log" >&2; exit 1; }
  measure_pair router "$k" "$ROUTER_PID" "http://127.0.0.1:$rport/" "$n" "$NGINX_PID" "http://127.0.0.1:$nport/"
done
echo "raw: $RAW"

# TLS rows, side by side in the same run and in front of the same vassals (bench/router-tls.sh; TLS=0 skips them)
if [ "${TLS:-1}" = 1 ]; then
  PORTS=$(IFS=,; echo "${PORTS[*]}") RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS \
    PROCESSES=$PROCESSES NODE=$NODE bash "$HERE/router-tls.sh"
fi
