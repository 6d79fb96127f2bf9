#!/usr/bin/env bash
# router-tls.sh: kaiser's HTTPS front door (src/router/tls/) against Debian nginx terminating TLS, in front of the
# same hello vassals, side by side in one run.
#
# One self-signed EC P-256 certificate for app1.example.test (in an sni-dir for kaiser, ssl_certificate for nginx),
# TLS 1.2+ with the same AEAD suites on both sides, keep-alive to clients and to the vassals. Targets:
#   kaiser_tls_h2   bench/router-tls-server.mjs (node:http2 with allowHTTP1: what --emperor-https runs by default)
#   kaiser_tls_h1   the same with ROUTER_H2=0 (node:https, HTTP/1.1 only: --emperor-https-h2 false)
#   nginx_tls_wN    nginx, `listen … ssl`, one run per NGINX_WORKERS value, proxy_pass with keepalive 32
# each measured with `wrk -t2 -c64 -d10s --latency -H 'Host: app1.example.test' https://…` RUNS times (median).
# wrk speaks HTTP/1.1 over TLS with keep-alive: the figures are TLS record and proxy costs, not handshakes.
#
# Prints  figure: router_tls_rps_<target> X req/s   figure: router_tls_p99_<target> Y ms
#         compare: router_tls_rps kaiser_tls_h2=X nginx_tls_wN=Y ratio=X/Y
# and saves the raw wrk output to bench/results/router-tls.<timestamp>.txt.
#
# Env: N (4)  RUNS (3)  DURATION (10s)  CONNECTIONS (64)  THREADS (2)  NGINX_WORKERS ("1 auto")  NODE (node)
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
NGINX_WORKERS=${NGINX_WORKERS:-"1 auto"}
NODE=${NODE:-node}
HOST=app1.example.test

command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "error: openssl not found (apt-get install -y openssl)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "error: nginx not found (apt-get install -y nginx-light)" >&2; exit 2; }
[ -f "$ROOT/dist/router/tls/https-listener.js" ] || { echo "error: run npm run build first" >&2; exit 2; }

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
declare -A RPS P99
measure() {   # measure TARGET PORT: wrk over https, SNI localhost, Host app1.example.test
  local target=$1 port=$2 out rps=() p99=() url="https://$CERT_NAME:$2/"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Host: $HOST" "$url" >/dev/null 2>&1
  for run in $(seq "$RUNS"); do
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "$url" 2>&1)
    { echo; echo "## $target run $run (load $(cut -d' ' -f1-3 /proc/loadavg))"; echo "$out"; } >>"$RAW"
    rps+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
    p99+=("$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")")
    if grep -q 'Non-2xx' <<<"$out"; then echo "warning: $target answered non-2xx: $(grep 'Non-2xx' <<<"$out")" >&2; fi
  done
  RPS[$target]=$(printf '%s\n' "${rps[@]}" | median)
  P99[$target]=$(printf '%s\n' "${p99[@]}" | median)
  echo "figure: router_tls_rps_$target ${RPS[$target]} req/s"
  echo "figure: router_tls_p99_$target ${P99[$target]} ms"
  echo "detail: $target runs rps=${rps[*]} p99_ms=${p99[*]}"
}

pairs=()
for i in $(seq "${#VPORTS[@]}"); do pairs+=("app$i.example.test=${VPORTS[$((i - 1))]}"); done

for variant in h2 h1; do
  kport=$(free_port)
  start "kaiser-$variant" env ROUTER_H2=$([ $variant = h2 ] && echo 1 || echo 0) "$NODE" "$HERE/router-tls-server.mjs" "127.0.0.1:$kport" "$SNI" "${pairs[@]}"
  KPID=$LAST_PID
  wait_url "https://$CERT_NAME:$kport/" -k -H "Host: $HOST" || { cat "$WORK/kaiser-$variant.log" >&2; exit 1; }
  measure "kaiser_tls_$variant" "$kport"
  stop_pid "$KPID"
done

for workers in $NGINX_WORKERS; do
  nport=$(free_port)
  conf=$WORK/nginx-$workers
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
  start "nginx-$workers" "$NGINX" -p "$conf" -c "$conf/nginx.conf" -g 'daemon off;'
  NPID=$LAST_PID
  wait_url "https://$CERT_NAME:$nport/" -k -H "Host: $HOST" || { cat "$WORK/nginx-$workers.log" "$conf/error.log" >&2; exit 1; }
  measure "nginx_tls_w$workers" "$nport"
  stop_pid "$NPID"
done

for workers in $NGINX_WORKERS; do
  n=nginx_tls_w$workers
  for k in kaiser_tls_h2 kaiser_tls_h1; do
    echo "compare: router_tls_rps $k=${RPS[$k]} $n=${RPS[$n]} ratio=$(awk -v a="${RPS[$k]}" -v b="${RPS[$n]}" 'BEGIN {printf "%.2f", a / b}')"
    echo "compare: router_tls_p99_ms $k=${P99[$k]} $n=${P99[$n]} ratio=$(awk -v a="${P99[$k]}" -v b="${P99[$n]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
  done
done
echo "raw: $RAW"
