#!/usr/bin/env bash
# emperor-core.sh
#
# The emperor benchmarks of the issue in one go, each run by the shared scripts in
# bench/uwsgi-bench/ under four variants:
#
#   uwsgi        /usr/bin/uwsgi --emperor DIR  (default scan period 3 s), ini vassal
#   uwsgi-f1     same with --emperor-freq 1
#   kaiser-ini   node bin/kaiser.js --emperor DIR, the same app-server ini vassal
#                (uwsgi-bench/lib/vassal.ini.tmpl: http-socket, hitme.py, master, 1 worker)
#   kaiser-toml  kaiser with a command vassal .toml (lib/cmd-vassal.toml.tmpl):
#                exec = /usr/bin/python3 -I -S apps/tiny_http.py PORT (listening ~10 ms
#                after exec), ready = "tcp://127.0.0.1:PORT"
#
# Benchmarks (see uwsgi-bench/README.md for exact definitions):
#   deploy   deploy-latency.sh   file renamed in -> first HTTP 200         (median ms)
#   remove   remove-latency.sh   file deleted -> port closed / processes gone (median ms)
#   crash    crash-respawn.sh both, WATCH=30:
#            respawn: SIGKILL of the vassal's top process -> 200 again  (median ms)
#            throttle: spawns of a vassal that exits at start, within 30 s (count)
#            (uWSGI/kaiser-ini: crash.py as WSGI app; kaiser-toml: crash.py as the program)
#   crash1   crash-respawn.sh respawn with TRIALS=1, REPEAT (5) times, each with a fresh
#            emperor: the first crash of a healthy vassal -> 200 again   (median ms)
#            (crash's median includes the crash-loop policy: the same vassal is
#            killed every 1.5 s, and kaiser backs off 1, 2, 4, 8 s by design)
#
# Prints every side's detail/metric/figure lines prefixed "VARIANT BENCH", then a
# markdown summary table with medians and kaiser/uWSGI ratios (vs uWSGI default and
# vs uWSGI --emperor-freq 1).  A failing variant is reported as FAILED with its error
# lines and the rest goes on.
#
# Env: VARIANTS (default "uwsgi uwsgi-f1 kaiser-ini kaiser-toml"), BENCHES (default
#      "deploy remove crash crash1"), TRIALS (5), WATCH (30), REPEAT (5), KAISER_ROOT, KEEP_OUT=DIR (keep
#      raw per-run outputs there).
# Takes about 7 minutes with the defaults (2-CPU VM).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/kaiser.sh
source "$HERE/lib/kaiser.sh"

VARIANTS=${VARIANTS:-"uwsgi uwsgi-f1 kaiser-ini kaiser-toml"}
BENCHES=${BENCHES:-"deploy remove crash crash1"}
REPEAT=${REPEAT:-5}
export TRIALS=${TRIALS:-5}
export WATCH=${WATCH:-30}
if [ -n "${KEEP_OUT:-}" ]; then OUTD=$KEEP_OUT; mkdir -p "$OUTD"; else OUTD=$(mktemp -d -t kaiser-core.XXXXXX); fi
CHILD=""
trap '[ -n "${KEEP_OUT:-}" ] || rm -rf "$OUTD"' EXIT
trap 'trap - INT TERM; [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null; exit 130' INT TERM

declare -A R   # R[bench:key:variant] = value

variant_env() {  # variant_env VARIANT -> env arguments, one per line
  printf '%s\n' -u EMPEROR_CMD -u SERVER_CMD -u VASSAL_TEMPLATE -u VASSAL_EXT -u APP -u EMPEROR_ARGS
  case $1 in
    uwsgi)       echo "JITTER=${JITTER_UWSGI:-3}" ;;
    uwsgi-f1)    echo "EMPEROR_ARGS=--emperor-freq 1"; echo "JITTER=1" ;;
    kaiser-ini)  echo "EMPEROR_CMD=$KAISER_EMPEROR_CMD"; echo "JITTER=1" ;;
    kaiser-toml) echo "EMPEROR_CMD=$KAISER_EMPEROR_CMD"; echo "JITTER=1"
                 echo "VASSAL_TEMPLATE=$CMD_VASSAL_TEMPLATE"; echo "VASSAL_EXT=toml"; echo "APP=$TINY_HTTP" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}
bench_cmd() {
  case $1 in
    deploy) echo deploy-latency.sh ;;
    remove) echo remove-latency.sh ;;
    crash)  echo crash-respawn.sh both ;;
  esac
}

# crash1: the first crash of a fresh vassal, REPEAT times (each a new emperor + vassal,
# crash-respawn.sh respawn with TRIALS=1).  crash-respawn.sh kills the same vassal
# TRIALS times 1.5 s apart, so from the 2nd kill on its figure measures the emperor's
# crash-loop policy (uWSGI throttling, kaiser's backoff 1 s, 2 s, 4 s... for a vassal
# that dies again within 60 s of being ready) rather than respawn speed.
run_crash1() {  # run_crash1 VARIANT
  local v=$1 envs=() k rc f vals=() olds=() x
  mapfile -t envs < <(variant_env "$v")
  echo "### $v crash1: crash-respawn.sh respawn, TRIALS=1, x$REPEAT  ($(date +%T))"
  for k in $(seq 1 "$REPEAT"); do
    f=$OUTD/crash1.$v.$k
    env "${envs[@]}" TRIALS=1 "$UB/crash-respawn.sh" respawn > "$f.out" 2> "$f.err" &
    CHILD=$!; wait "$CHILD"; rc=$?; CHILD=""
    grep -E '^detail: trial' "$f.out" | sed "s/^/$v crash1 [$k] /"
    x=$(awk '$1=="figure:"{print $3}' "$f.out")
    if [ $rc -ne 0 ] || [ -z "$x" ]; then
      echo "$v crash1 [$k] FAILED exit=$rc"; grep -v '^# ' "$f.err" | tail -8 | sed "s/^/$v crash1 error: /"
      R[crash1:failed:$v]=1; continue
    fi
    vals+=("$x"); olds+=("$(awk '$2=="crash_old_tree_gone"{print $3}' "$f.out")")
  done
  [ ${#vals[@]} -gt 0 ] || return 0
  R[crash1:crash_first_respawn:$v]=$(median "${vals[@]}")
  R[crash1:crash_first_old_tree_gone:$v]=$(median "${olds[@]}")
  echo "$v crash1 detail: first-crash respawn_ms: ${vals[*]}; old tree gone ms: ${olds[*]}"
  echo "$v crash1 metric: crash_first_old_tree_gone ${R[crash1:crash_first_old_tree_gone:$v]} ms"
  echo "$v crash1 figure: crash_first_respawn ${R[crash1:crash_first_respawn:$v]} ms"
}
median() {
  printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{
    if (NR==0) {print "nan"; exit}
    if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'
}

run_one() {  # run_one BENCH VARIANT
  local b=$1 v=$2 envs=() cmd rc f key val
  mapfile -t envs < <(variant_env "$v")
  read -r -a cmd <<< "$(bench_cmd "$b")"
  f=$OUTD/$b.$v
  echo "### $v $b: ${cmd[*]}  ($(date +%T))"
  env "${envs[@]}" "$UB/${cmd[0]}" "${cmd[@]:1}" > "$f.out" 2> "$f.err" &
  CHILD=$!; wait "$CHILD"; rc=$?; CHILD=""
  grep -E '^(detail|metric|figure): ' "$f.out" | sed "s/^/$v $b /"
  while read -r key val; do R[$b:$key:$v]=$val; done < <(awk '$1=="metric:"||$1=="figure:"{print $2, $3}' "$f.out")
  if [ $rc -ne 0 ] || ! grep -q '^figure: ' "$f.out"; then
    echo "$v $b FAILED exit=$rc"
    grep -v '^# ' "$f.err" | tail -12 | sed "s/^/$v $b error: /"
    R[$b:failed:$v]=1
  fi
}

echo "emperor-core: date=$(date -Is) host_cpus=$(nproc) loadavg=\"$(cut -d" " -f1-3 /proc/loadavg)\" TRIALS=$TRIALS WATCH=$WATCH"
echo "emperor-core: $(kaiser_describe)"
echo "emperor-core: uwsgi=$(/usr/bin/uwsgi --version 2>&1 | head -1)"
T0=$SECONDS
for b in $BENCHES; do
  for v in $VARIANTS; do
    if [ "$b" = crash1 ]; then run_crash1 "$v"; else run_one "$b" "$v"; fi
  done
done

# ---- summary -------------------------------------------------------------------------
cell() {  # cell BENCH KEY VARIANT
  local x=${R[$1:$2:$3]:-}
  if [ -n "$x" ]; then echo "$x"; elif [ -n "${R[$1:failed:$3]:-}" ]; then echo FAILED; else echo "–"; fi
}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN{ if (x ~ /^[0-9.]+$/ && y ~ /^[0-9.]+$/ && x+0 > 0) printf "%.3f", y/x; else print "–" }'; }
echo
echo "## emperor-core summary ($(date -Is), $(nproc) CPUs, TRIALS=$TRIALS, WATCH=${WATCH}s, took $((SECONDS - T0)) s)"
echo
echo "| figure | unit | uWSGI (freq 3) | uWSGI freq 1 | kaiser ini | kaiser toml | ini/uWSGI | toml/uWSGI | ini/uWSGI-f1 | toml/uWSGI-f1 |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
rows=(
  "deploy deploy_latency ms"
  "remove remove_port_closed ms"
  "remove remove_latency ms"
  "crash crash_old_tree_gone ms"
  "crash crash_respawn ms"
  "crash crash_spawns_in_window spawns/${WATCH}s"
  "crash1 crash_first_old_tree_gone ms"
  "crash1 crash_first_respawn ms"
)
for row in "${rows[@]}"; do
  read -r b key unit <<< "$row"
  [[ " $BENCHES " == *" $b "* ]] || continue
  u=$(cell "$b" "$key" uwsgi) u1=$(cell "$b" "$key" uwsgi-f1)
  ki=$(cell "$b" "$key" kaiser-ini) kt=$(cell "$b" "$key" kaiser-toml)
  echo "| $key | $unit | $u | $u1 | $ki | $kt | $(ratio "$u" "$ki") | $(ratio "$u" "$kt") | $(ratio "$u1" "$ki") | $(ratio "$u1" "$kt") |"
done
echo
echo "Medians over TRIALS=$TRIALS (spawn count: one ${WATCH}s window; crash_first_*: median over"
echo "REPEAT=$REPEAT fresh emperors of the first kill). crash_respawn kills one vassal TRIALS times"
echo "1.5 s apart, so it includes each emperor's crash-loop throttling/backoff. remove_latency = all of the"
echo "vassal's processes gone; remove_port_closed = its port refuses connections."
echo "ratio = kaiser / uWSGI (lower is faster, except spawn counts: lower = more throttled)."
