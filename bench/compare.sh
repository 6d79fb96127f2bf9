#!/usr/bin/env bash
# compare.sh SCRIPT [ARGS...]
#
# Runs bench/uwsgi-bench/SCRIPT once against real uWSGI and then once against kaiser,
# in this one invocation, and prints
#
#   uwsgi  metric: ... / uwsgi  figure: ...       (each side's metric/figure lines;
#   kaiser metric: ... / kaiser figure: ...        detail lines too, prefixed "detail:")
#   compare: NAME uwsgi=X kaiser=Y ratio=Y/X      (NAME = the figure's name)
#
# A side that fails (non-zero exit or no figure line) gets "figure: NAME FAILED" and its
# last stderr lines printed as "<side> error: ...", and ratio=nan.  compare.sh exits 0
# if the uWSGI side worked (the kaiser side may legitimately fail while kaiser is built),
# 1 otherwise.
#
# uWSGI side:  the scripts' defaults (/usr/bin/uwsgi --emperor {dir}, vassal.ini.tmpl,
#              /usr/bin/uwsgi --plugin python3,http for standalone servers).
# kaiser side: EMPEROR_CMD="node $KAISER_ROOT/bin/kaiser.js --emperor {dir}",
#              SERVER_CMD="node $KAISER_ROOT/bin/kaiser.js" (accepts and ignores --plugin),
#              same ini vassal template unless KAISER_ENV says otherwise.
#
# Env:
#   KAISER_ROOT   kaiser checkout (default: the repo holding this bench/)
#   UWSGI_ENV     extra VAR=VALUE assignments for the uWSGI side, separated by ';'
#   KAISER_ENV    same for the kaiser side, e.g.
#                 KAISER_ENV="VASSAL_TEMPLATE=$PWD/bench/lib/cmd-vassal.toml.tmpl;VASSAL_EXT=toml;APP=$PWD/bench/apps/tiny_http.py"
#   SIDES         "uwsgi kaiser" (default); "kaiser" or "uwsgi" runs one side only
#   COMPARE_OUT   directory to keep each side's full stdout/stderr (default: a temp dir, removed)
#
# Notes
# - hello-throughput.sh router: uWSGI's --http starts a separate HTTP router process
#   in front of the workers (uwsgi protocol between them); kaiser's --http has the
#   master own the socket and the workers answer HTTP themselves (no router hop).  So
#   "router" compares different architectures; "socket" (--http-socket) is like for like.
# - In standalone mode `node bin/kaiser.js` is a launcher parent process (node) over the
#   Python master and workers: req/s and latency are fine to compare, CPU/RSS read from
#   the launcher pid would not be the server's.  None of the shared scripts reads
#   CPU/RSS of a standalone server; emperor figures (mass-vassals.sh) are read from the
#   emperor pid, which is the node process itself (bash -c "exec node ...").
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/kaiser.sh
source "$HERE/lib/kaiser.sh"

[ $# -ge 1 ] || { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
SCRIPT=$1; shift
[ -x "$UB/$SCRIPT" ] || { echo "error: no such bench script: $UB/$SCRIPT" >&2; exit 2; }
SIDES=${SIDES:-"uwsgi kaiser"}

if [ -n "${COMPARE_OUT:-}" ]; then OUTD=$COMPARE_OUT; mkdir -p "$OUTD"; KEEP=1
else OUTD=$(mktemp -d -t kaiser-compare.XXXXXX); KEEP=0; fi
CHILD=""
on_exit() { [ "$KEEP" = 1 ] || rm -rf "$OUTD"; }
on_signal() {   # forward to the running bench script: it cleans up its own processes
  trap - INT TERM
  [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
  exit 130
}
trap on_exit EXIT
trap on_signal INT TERM

# split_env "A=1;B=x y" -> one assignment per line
split_env() { [ -n "$1" ] && printf '%s\n' "$1" | tr ';' '\n' | grep -v '^[[:space:]]*$'; }

run_side() {  # run_side SIDE -> sets FIG_<side>
  local side=$1 envs=() extra line rc fig
  shift
  # the uWSGI side must not inherit an implementation chosen in the caller's env
  envs=(-u EMPEROR_CMD -u SERVER_CMD -u VASSAL_TEMPLATE -u VASSAL_EXT -u APP -u EMPEROR_ARGS -u SERVER_ARGS)
  if [ "$side" = kaiser ]; then
    envs+=("EMPEROR_CMD=$KAISER_EMPEROR_CMD" "SERVER_CMD=$KAISER_SERVER_CMD")
    extra=${KAISER_ENV:-}
  else
    extra=${UWSGI_ENV:-}
  fi
  while IFS= read -r line; do envs+=("$line"); done < <(split_env "$extra")
  echo "# $side: $SCRIPT $* (env: ${envs[*]})" >&2
  env "${envs[@]}" "$UB/$SCRIPT" "$@" > "$OUTD/$side.out" 2> "$OUTD/$side.err" &
  CHILD=$!
  wait "$CHILD"; rc=$?
  CHILD=""
  grep -E '^(detail|metric|figure): ' "$OUTD/$side.out" | sed "s/^/$side /"
  fig=$(awk '$1=="figure:"{print $2" "$3" "$4}' "$OUTD/$side.out" | tail -1)
  if [ $rc -ne 0 ] || [ -z "$fig" ] || ! [[ $(echo "$fig" | awk '{print $2}') =~ ^[0-9.]+$ ]]; then
    echo "$side exit: $rc"
    grep -v '^# ' "$OUTD/$side.err" | tail -15 | sed "s/^/$side error: /"
    [ -z "$fig" ] && fig="? FAILED -"
    eval "OK_$side=0"
  else
    eval "OK_$side=1"
  fi
  eval "FIG_$side=\"\$fig\""
}

echo "compare: script=$SCRIPT args=$* date=$(date -Is) host_cpus=$(nproc) loadavg=\"$(cut -d" " -f1-3 /proc/loadavg)\""
echo "compare: $(kaiser_describe)"
echo "compare: uwsgi=$(/usr/bin/uwsgi --version 2>&1 | head -1)"
FIG_uwsgi="? FAILED -" FIG_kaiser="? FAILED -" OK_uwsgi=0 OK_kaiser=0
for s in $SIDES; do
  case $s in uwsgi|kaiser) run_side "$s" "$@" ;; *) echo "error: unknown side $s" >&2; exit 2 ;; esac
done

name=$(echo "$FIG_uwsgi" | awk '{print $1}')
[ "$name" = "?" ] && name=$(echo "$FIG_kaiser" | awk '{print $1}')
x=$(echo "$FIG_uwsgi" | awk '{print $2}')
y=$(echo "$FIG_kaiser" | awk '{print $2}')
unit=$(echo "$FIG_uwsgi $FIG_kaiser" | awk '{print ($3 != "-") ? $3 : $6}')
ratio=$(awk -v x="$x" -v y="$y" 'BEGIN{
  if (x ~ /^[0-9.]+$/ && y ~ /^[0-9.]+$/ && x+0 > 0) printf "%.3f", y/x; else print "nan" }')
echo "compare: $name uwsgi=$x kaiser=$y ratio=$ratio unit=$unit"
[ "$OK_uwsgi" = 1 ] || [[ " $SIDES " != *" uwsgi "* ]]
