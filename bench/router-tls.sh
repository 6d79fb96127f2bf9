#!/usr/bin/env bash
# router-tls.sh: kaiser's HTTPS front door (--emperor-https: TLS in the router processes, src/router/tls/) against
# Debian nginx terminating TLS, in front of the same hello vassals, side by side in one run.
#
# One self-signed EC P-256 certificate (in an sni-dir for kaiser, ssl_certificate for nginx), TLS 1.2+ with the same
# AEAD suites on both sides, keep-alive to clients and to the vassals. Targets, for each P in PROCESSES ("1 auto"):
#   kaiser_tls_pP   an emperor with --emperor-https --sni-dir --emperor-http-processes P over command vassals that
#                   declare app1..appN.example.test at those ports (HTTP/2 offered by ALPN, as by default)
#   nginx_tls_wP    nginx, `listen … ssl`, worker_processes P, proxy_pass with keepalive 32
# each measured with `wrk -t2 -c64 -d10s --latency -H 'Host: app1.example.test' https://…` RUNS times (median),
# kaiser and nginx alternated run by run. wrk speaks HTTP/1.1 over TLS with keep-alive: the figures are TLS record
# and proxy costs, not handshakes.
#
# Prints  figure: router_tls_rps_<target> X req/s   figure: router_tls_p99_<target> Y ms
#         compare: router_tls_rps kaiser_tls_pP=X nginx_tls_wP=Y ratio=X/Y
# and saves the raw wrk output to bench/results/router-tls.<timestamp>.txt.
#
# Env: N (4)  RUNS (3)  DURATION (10s)  CONNECTIONS (64)  THREADS (2)  PROCESSES ("1 auto")  NODE (node)
#      PORTS (comma-separated ports of hello vassals already running, e.g. from router.sh; else N are started here)
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
PROCESSES=${PROCESSES:-${NGINX_WORKERS:-"1 auto"}}
NODE=${NODE:-node}
HOST=app1.example.test

command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "error: openssl not found (apt-get install -y openssl)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "error: nginx not found (apt-get install -y nginx-light)" >&2; exit 2; }
[ -f "$ROOT/dist/router/router-process.js" ] || { echo "error: run npm run build first" >&2; exit 2; }

WORK=$(mktemp -d -t kaiser-router-tls-bench.XXXXXX)
mkdir -p "$ROOT/bench/results"
RAW=$ROOT/bench/results/router-tls.$(date +%Y%m%d-%H%M%S).txt
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
start() {   # start NAME CMD...: own process group, output to $WORK/NAME.log; sets LAST_PID
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}
stop_pid() {
  kill -TERM -- "-$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null
}
wait_url() {   # wait_url URL [curl args]: until it answers 200, at most 20 s
  local url=$1; shift
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -m 1 "$@" "$url")" = 200 ] && return 0
    sleep 0.1
  done
  echo "error: $url does not answer 200" >&2; return 1
}

# ── vassals and the certificate ───────────────────────────────────────────────────────────
if [ -n "${PORTS:-}" ]; then
  IFS=, read -r -a VPORTS <<<"$PORTS"
else
  VPORTS=()
  for i in $(seq "$N"); do
    port=$(free_port)
    VPORTS+=("$port")
    start "app$i" "$NODE" "$ROOT/bin/kaiser.js" --http-socket "127.0.0.1:$port" --wsgi-file "$ROOT/bench/uwsgi-bench/hitme.py" --processes 1
  done
fi
for port in "${VPORTS[@]}"; do wait_url "http://127.0.0.1:$port/" || exit 1; done
SNI=$WORK/sni
mkdir -p "$SNI"
# wrk takes the SNI name from its URL and resolves it: the URL names localhost (127.0.0.1 here) and the Host header
# names the routed vassal, so the certificate is for localhost.
CERT_NAME=localhost
getent hosts localhost | grep -q '^127\.0\.0\.1' || { echo "error: localhost does not resolve to 127.0.0.1 first" >&2; exit 2; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$SNI/$CERT_NAME.key" -out "$SNI/$CERT_NAME.crt" \
  -days 3 -subj "/CN=$CERT_NAME" -addext "subjectAltName=DNS:$CERT_NAME" 2>/dev/null
CIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305

{
  echo "# router-tls.sh $(date -Is) N=${#VPORTS[@]} RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS"
  echo "# kaiser commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) node $($NODE --version) $("$NGINX" -v 2>&1) $(wrk --version 2>&1 | head -1) $(openssl version)"
  echo "# nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RAW"

# ── measuring ─────────────────────────────────────────────────────────────────────────────
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A RPS P99 RUNS_RPS RUNS_P99
warm() {   # warm PORT: a short wrk run (JIT, connection pools)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Host: $HOST" "https://$CERT_NAME:$1/" >/dev/null 2>&1
}
run_once() {   # run_once TARGET PORT RUN: one wrk run over https, SNI localhost, Host app1.example.test
  local target=$1 port=$2 run=$3 out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "https://$CERT_NAME:$port/" 2>&1)
  { echo; echo "## $target run $run (load $(cut -d' ' -f1-3 /proc/loadavg))"; echo "$out"; } >>"$RAW"
  RUNS_RPS[$target]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
  RUNS_P99[$target]+="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") "
  if grep -q 'Non-2xx' <<<"$out"; then echo "warning: $target answered non-2xx: $(grep 'Non-2xx' <<<"$out")" >&2; fi
}
report() {   # report TARGET: medians of its runs
  local target=$1
  RPS[$target]=$(tr ' ' '\n' <<<"${RUNS_RPS[$target]}" | grep . | median)
  P99[$target]=$(tr ' ' '\n' <<<"${RUNS_P99[$target]}" | grep . | median)
  echo "figure: router_tls_rps_$target ${RPS[$target]} req/s"
  echo "figure: router_tls_p99_$target ${P99[$target]} ms"
  echo "detail: $target runs rps=${RUNS_RPS[$target]}p99_ms=${RUNS_P99[$target]}"
}

# kaiser's vassals: command vassals that run nothing and declare the domains and addresses of the hello apps
VDIR=$WORK/vassals
mkdir -p "$VDIR"
for i in $(seq "${#VPORTS[@]}"); do
  printf 'exec = ["sleep", "100000"]\nready = "tcp://127.0.0.1:%s"\ndomain = "app%s.example.test"\n' "${VPORTS[$((i - 1))]}" "$i" >"$VDIR/app$i.toml"
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
    echo "  ssl_protocols TLSv1.2 TLSv1.3;"
    echo "  ssl_ciphers $CIPHERS;"
    echo "  ssl_prefer_server_ciphers off;"
    echo "  ssl_certificate $SNI/$CERT_NAME.crt;"
    echo "  ssl_certificate_key $SNI/$CERT_NAME.key;"
    for i in $(seq "${#VPORTS[@]}"); do
      echo "  upstream app$i { server 127.0.0.1:${VPORTS[$((i - 1))]}; keepalive 32; }"
      echo "  server {"
      echo "    listen 127.0.0.1:$nport ssl;"
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
  k=kaiser_tls_p$procs
  n=nginx_tls_w$procs
  kport=$(free_port)
  start "$k" "$NODE" "$ROOT/bin/kaiser.js" --emperor "$VDIR" --emperor-https "127.0.0.1:$kport" --sni-dir "$SNI" \
    --emperor-http-processes "$procs" --control "$WORK/control-$procs.sock"
  KPID=$LAST_PID
  wait_url "https://$CERT_NAME:$kport/" -k -H "Host: $HOST" || { cat "$WORK/$k.log" >&2; exit 1; }
  nport=$(free_port)
  nginx_conf "$WORK/nginx-$procs" "$procs" "$nport"
  start "$n" "$NGINX" -p "$WORK/nginx-$procs" -c "$WORK/nginx-$procs/nginx.conf" -g 'daemon off;'
  NPID=$LAST_PID
  wait_url "https://$CERT_NAME:$nport/" -k -H "Host: $HOST" || { cat "$WORK/$n.log" "$WORK/nginx-$procs/error.log" >&2; exit 1; }
  warm "$kport"
  warm "$nport"
  for run in $(seq "$RUNS"); do
    run_once "$k" "$kport" "$run"
    run_once "$n" "$nport" "$run"
  done
  stop_pid "$KPID"
  stop_pid "$NPID"
  report "$k"
  report "$n"
  echo "compare: router_tls_rps $k=${RPS[$k]} $n=${RPS[$n]} ratio=$(awk -v a="${RPS[$k]}" -v b="${RPS[$n]}" 'BEGIN {printf "%.2f", a / b}')"
  echo "compare: router_tls_p99_ms $k=${P99[$k]} $n=${P99[$n]} ratio=$(awk -v a="${P99[$k]}" -v b="${P99[$n]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
done
echo "raw: $RAW"
