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
HERE=$(cd "$(dirname "$0")" && pwd)
PROCESSES=${PROCESSES:-${NGINX_WORKERS:-"1 auto"}}
command -v openssl >/dev/null || { echo "error: openssl not found (apt-get install -y openssl)" >&2; exit 2; }
# settings, tools, scratch directory and raw file, processes, backends, nginx's configuration, measuring: shared
# with router.sh
. "$HERE/lib/router-bench.sh" router-tls

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

raw_header "router-tls.sh $(date -Is) N=${#VPORTS[@]} RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS" "$(openssl version)"

# kaiser's vassals: command vassals that run nothing and declare the domains and addresses of the hello apps
VDIR=$WORK/vassals
route_vassals "$VDIR" "${VPORTS[@]}"
# nginx terminates TLS with the same certificate, protocols and AEAD suites as kaiser
NGINX_TLS="  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers $CIPHERS;
  ssl_prefer_server_ciphers off;
  ssl_certificate $SNI/$CERT_NAME.crt;
  ssl_certificate_key $SNI/$CERT_NAME.key;"

# ── measuring: wrk over https, SNI localhost, Host app1.example.test ──────────────────────
for procs in $PROCESSES; do
  k=kaiser_tls_p$procs
  n=nginx_tls_w$procs
  kport=$(free_port)
  start "$k" "$NODE" "$ROOT/bin/kaiser.js" --emperor "$VDIR" --emperor-https "127.0.0.1:$kport" --sni-dir "$SNI" \
    --emperor-http-processes "$procs" --control "$WORK/control-$procs.sock"
  KPID=$LAST_PID
  wait_url "https://$CERT_NAME:$kport/" -k -H "Host: $HOST" || { cat "$WORK/$k.log" >&2; exit 1; }
  nport=$(free_port)
  nginx_conf "$WORK/nginx-$procs" "$procs" "127.0.0.1:$nport ssl" "$NGINX_TLS" "${VPORTS[@]}"
  start "$n" "$NGINX" -p "$WORK/nginx-$procs" -c "$WORK/nginx-$procs/nginx.conf" -g 'daemon off;'
  NPID=$LAST_PID
  wait_url "https://$CERT_NAME:$nport/" -k -H "Host: $HOST" || { cat "$WORK/$n.log" "$WORK/nginx-$procs/error.log" >&2; exit 1; }
  measure_pair router_tls "$k" "$KPID" "https://$CERT_NAME:$kport/" "$n" "$NPID" "https://$CERT_NAME:$nport/"
done
echo "raw: $RAW"
