#!/usr/bin/env bash
# reload.sh: reloads under load, side by side in one run (issue 5).
#
# Every row: a server answers a hello app under `wrk -t1 -c16` for DURATION s while a
# sequential prober (uwsgi-bench/lib/probe.py gap: one request at a time, a fresh
# connection each) records every failure and the longest stretch without a 200;
# TOUCH_AT s into the load the reload is triggered.  RUNS runs per row (3).
#
#   uwsgi-config      uWSGI emperor, ini vassal (2 workers), vassal file touched
#                     (uwsgi-bench/reload-under-load.sh config)
#   uwsgi-chain       uWSGI emperor, lazy-apps + touch-chain-reload, trigger touched
#                     (reload-under-load.sh chain)
#   kaiser-config     kaiser emperor, the same ini vassal (an app-server vassal),
#                     file touched: the default reload mode (chain)
#   kaiser-chain      kaiser emperor, the same chain vassal (lazy-apps +
#                     touch-chain-reload, both accepted by kaiser), trigger touched
#   kaiser-config-chainmode  the ini vassal + `reload-mode = chain`, file touched
#   kaiser-config-allmode    the ini vassal + `reload-mode = all`, file touched
#   kaiser-cmd        kaiser command vassal with socket activation: a Node http server
#                     (`exec = ["node", "-e", …]`, `server.listen({fd: 3})`,
#                     `socket = "tcp://127.0.0.1:PORT"`, `ready = "notify"`, READY=1
#                     after listen; SIGTERM -> stop listening, answer the requests still
#                     arriving on open keep-alive connections with `Connection: close`,
#                     exit once they are closed); reload = the vassal file rewritten with
#                     a new VERSION env value (the answer must switch to the new value)
#   pm2               PM2 cluster mode (bench/pm2, local install), a plain Node hello app
#                     (no signal handler: what `pm2 start app.js -i 2` runs by default),
#                     2 instances, `pm2 reload app --update-env` with a new VERSION
#   pm2-graceful      the same with the app closing its server on SIGINT (PM2's stop
#                     signal) exactly like the kaiser-cmd program does on SIGTERM
#   kaiser-noreload   control: kaiser app-server vassal (the ini of kaiser-config) under
#                     the same load, no reload: the gaps and errors of the load alone
#
# Failed requests of a run = prober failures + wrk non-2xx + wrk connect/write/timeout
# errors, and for every server that delimits its responses (Content-Length: kaiser, Node)
# also wrk read errors: with keep-alive a read error is a request that got no answer.
# uWSGI's --http-socket ends hitme.py's body by closing the connection, which wrk counts
# as one read error per request, so read errors cannot be counted on the uWSGI rows
# (the shared script's rule); they are shown in their own column.
#
# Where the longest gap happened: the prober is run through a small wrapper (written to
# the temp dir and passed to the shared script as PYTHON; it behaves exactly like
# `probe.py gap` and also logs every gap > 5 ms with its start time).  The table then
# splits each run's gaps into those that began in the reload window [trigger - 50 ms,
# trigger + RELOAD_WINDOW s] and those outside it: with wrk saturating both CPUs, the
# prober also sees scheduling pauses that have nothing to do with the reload, and the
# control row (kaiser-noreload: the same kaiser app-server vassal under the same load,
# never reloaded) measures them.
#
# Output: every row's detail lines (prefixed with the row), then a markdown table:
# failed requests (sum over the runs and per run), longest gap (median of the runs, and
# every run), and the target (kaiser: 0 failed, longest gap <= 50 ms).  Raw output is
# saved to bench/results/reload.DATE.txt (OUT=FILE to choose).
#
# Env: ROWS (all of the above), RUNS (3), DURATION (10), TOUCH_AT (2), LOAD_CONNS (16),
#      PROCESSES (2 workers / instances), PM2 (bench/pm2/node_modules/.bin/pm2),
#      RELOAD_WINDOW (3 s), KAISER_ROOT, PORT_BASE (24100), OUT.  About 6 minutes.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/kaiser.sh
source "$HERE/lib/kaiser.sh"
# shellcheck source=uwsgi-bench/lib/common.sh
source "$UB/lib/common.sh"     # WORK, track/cleanup, PROBE, wait_200, median, detail

ROWS=${ROWS:-"uwsgi-config uwsgi-chain kaiser-config kaiser-chain kaiser-config-chainmode kaiser-config-allmode kaiser-cmd pm2 pm2-graceful kaiser-noreload"}
RELOAD_WINDOW=${RELOAD_WINDOW:-3}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
TOUCH_AT=${TOUCH_AT:-2}
LOAD_CONNS=${LOAD_CONNS:-16}
PROCS=${PROCESSES:-2}
PM2=${PM2:-$HERE/pm2/node_modules/.bin/pm2}
NODE_BIN=$(command -v "$NODE")
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$HERE/results/reload.$STAMP.txt}
mkdir -p "$(dirname "$OUT")" "$WORK/rows"
exec > >(tee "$OUT") 2>&1

echo "reload: date=$(date -Is) host_cpus=$(nproc) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\" rows=\"$ROWS\" runs=$RUNS duration=${DURATION}s touch_at=${TOUCH_AT}s load=wrk -t1 -c$LOAD_CONNS processes=$PROCS"
echo "reload: $(kaiser_describe)"
echo "reload: uwsgi=$(/usr/bin/uwsgi --version 2>&1 | head -1) wrk=\"$(wrk -v 2>&1 | head -1)\""
[ -x "$PM2" ] && echo "reload: pm2=$("$NODE_BIN" -p "require('$HERE/pm2/node_modules/pm2/package.json').version")"
T_ALL=$(now)

# the gap prober wrapper (see the header): `probe.py gap` + a log of every gap > 5 ms
GAPPY=$WORK/gap-python
cat > "$GAPPY" <<EOF
#!$PYTHON
import json, os, sys, time
args = sys.argv[1:]
if len(args) < 2 or not args[0].endswith("probe.py") or args[1] != "gap":
    os.execv("$PYTHON", ["$PYTHON"] + args)
sys.path.insert(0, os.path.dirname(args[0]))
import argparse, probe
ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True); ap.add_argument("--duration", type=float, default=10)
ap.add_argument("--interval", type=float, default=0.0); ap.add_argument("--interval-on-fail", type=float, default=0.002)
ap.add_argument("--req-timeout", type=float, default=5.0)
a = ap.parse_args(args[2:])
# the loop of probe.py cmd_gap, plus the list of gaps
t_begin = time.time(); end = t_begin + a.duration
last_ok = None; max_gap = 0.0; gap_at = None; ok = 0; fails = {}; samples = []; gaps = []
while time.time() < end:
    t0 = time.time()
    st, err = probe.http_get(a.port, a.req_timeout)
    t1 = time.time()
    if st == 200:
        ok += 1
        if last_ok is not None:
            if t1 - last_ok > max_gap:
                max_gap = t1 - last_ok; gap_at = last_ok
            if t1 - last_ok > 0.005:
                gaps.append([round(last_ok, 4), round((t1 - last_ok) * 1000, 1)])
        last_ok = t1
    else:
        k = err or ("http_%s" % st)
        fails[k] = fails.get(k, 0) + 1
        samples.append((round(t0, 4), k))
        if a.interval_on_fail:
            time.sleep(a.interval_on_fail)
    if a.interval:
        time.sleep(a.interval)
res = {"ok": ok, "failed": sum(fails.values()), "fail_kinds": fails, "max_gap_ms": round(max_gap * 1000, 1),
       "gap_started_at": gap_at, "first_fail_samples": samples[:5]}
print(json.dumps(res))
log = os.environ.get("RELOAD_GAPLOG")
if log:
    with open(log, "a") as fh:
        fh.write(json.dumps({"port": a.port, "t_begin": t_begin, "max_gap_ms": res["max_gap_ms"],
                             "gap_started_at": gap_at, "gaps": gaps}) + "\n")
EOF
chmod +x "$GAPPY"

# ---------------------------------------------------------------------------------------
# rows driven by the shared script (uwsgi-bench/reload-under-load.sh)
shared_row() {  # shared_row ROW SIDE MODE [VAR=VALUE...]
  local row=$1 side=$2 mode=$3 envs
  shift 3
  envs=("RUNS=$RUNS" "DURATION=$DURATION" "TOUCH_AT=$TOUCH_AT" "LOAD_CONNS=$LOAD_CONNS" "PROCESSES=$PROCS"
        "PYTHON=$GAPPY" "RELOAD_GAPLOG=$WORK/rows/$row.gaps")
  # own control socket: no clash with another kaiser emperor on the machine
  [ "$side" = kaiser ] && envs+=("EMPEROR_CMD=$KAISER_EMPEROR_CMD" "EMPEROR_ARGS=--control $WORK/ctl.$row.sock")
  envs+=("$@")
  echo "# row $row: reload-under-load.sh $mode (${envs[*]})"
  run_wait "$WORK/rows/$row.out" env -u EMPEROR_CMD -u SERVER_CMD -u VASSAL_TEMPLATE -u VASSAL_EXT -u APP -u EMPEROR_ARGS \
    "${envs[@]}" "$UB/reload-under-load.sh" "$mode" 2> "$WORK/rows/$row.err"
  echo "row $row exit $?"
  sed "s/^/$row /" "$WORK/rows/$row.out"
  grep -v '^# ' "$WORK/rows/$row.err" | tail -5 | sed "s/^/$row stderr: /"
}

# ---------------------------------------------------------------------------------------
# rows with our own servers: same measurement as reload-under-load.sh, same detail line
# load_and_reload ROW RUN PORT TRIGGER_FUNCTION -> one "detail: run ..." line
load_and_reload() {
  local row=$1 r=$2 port=$3 trigger=$4 wrk_pid gap_pid t_touch g
  wrk -t1 -c"$LOAD_CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" > "$WORK/wrk.$row.$r" 2>&1 &
  wrk_pid=$!; track "$wrk_pid" TERM
  RELOAD_GAPLOG=$WORK/rows/$row.gaps "$GAPPY" "$UB/lib/probe.py" gap --port "$port" --duration "$DURATION" > "$WORK/gap.$row.$r" &
  gap_pid=$!; track "$gap_pid" TERM
  sleep "$TOUCH_AT"
  t_touch=$(now)
  "$trigger" "$r" "$port"
  wait "$wrk_pid" "$gap_pid"
  untrack "$wrk_pid"; untrack "$gap_pid"
  "$PYTHON" - "$WORK/gap.$row.$r" "$WORK/wrk.$row.$r" "$r" "$t_touch" <<'EOF'
import json, re, sys
g = json.load(open(sys.argv[1])); w = open(sys.argv[2]).read(); r = sys.argv[3]; t_touch = float(sys.argv[4])
def grab(p, d="0"):
    m = re.search(p, w); return m.group(1) if m else d
kinds = ",".join("%s:%d" % kv for kv in sorted(g["fail_kinds"].items())) or "none"
sock = grab(r"(Socket errors:[^\n]*)", "Socket errors: none").strip()
after = round((g["gap_started_at"] - t_touch) * 1000) if g["gap_started_at"] else 0
print("detail: run %s: prober ok=%d failed=%d (%s) max_gap=%sms (gap began %d ms after touch); "
      "wrk requests=%s rps=%s non2xx=%s [%s] p99=%s max=%s" % (
      r, g["ok"], g["failed"], kinds, g["max_gap_ms"], after, grab(r"(\d+) requests in"),
      grab(r"Requests/sec:\s+([\d.]+)"), grab(r"Non-2xx or 3xx responses:\s+(\d+)"), sock,
      grab(r"\n\s+99%\s+(\S+)", "?"), grab(r"Latency\s+\S+\s+\S+\s+(\S+)", "?")))
EOF
}

body_of() { curl -s --max-time 2 "http://127.0.0.1:$1/" || true; }
# wait_body PORT TEXT TIMEOUT: until the answer contains TEXT
wait_body() {
  local i=0
  while [ $i -lt $(($3 * 20)) ]; do
    [[ $(body_of "$1") == *"$2"* ]] && return 0
    sleep 0.05; i=$((i + 1))
  done
  return 1
}

# --- kaiser command vassal with socket activation --------------------------------------
# A hello server on the inherited fd 3.  On SIGTERM it stops accepting (net.Server's
# close: http.Server.close() of Node >= 19 would also cut idle keep-alive connections,
# racing a request the client is sending on them), answers what still arrives on open
# connections with Connection: close, and exits when they are gone (5 s at most).
NODE_APP='const http = require("http");
const version = process.env.VERSION;
let closing = false;
const srv = http.createServer((req, res) => {
  const body = "Hello World " + version + "\n";
  const headers = {"Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body)};
  if (closing) headers["Connection"] = "close";
  res.writeHead(200, headers);
  res.end(body);
});
srv.keepAliveTimeout = 5000;
srv.listen({fd: 3}, () => console.log("READY=1"));
function drain() {
  if (closing) return;
  closing = true;
  require("net").Server.prototype.close.call(srv, () => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGTERM", drain);
process.on("SIGINT", drain);'

cmd_vassal_text() {  # PORT VERSION
  cat <<EOF
# bench/reload.sh: Node http server on an inherited socket (systemd socket activation)
exec = ["$NODE_BIN", "-e", '''
$NODE_APP
''']
socket = "tcp://127.0.0.1:$1"
ready = "notify"
stop-timeout = 10

[env]
VERSION = "$2"
EOF
}
cmd_trigger() {  # rewrite the vassal file with a new VERSION (atomic rename)
  cmd_vassal_text "$2" "v$1.2" > "$CMD_VDIR/.cmd$1.tmp"
  mv -f "$CMD_VDIR/.cmd$1.tmp" "$CMD_VDIR/cmd$1.toml"
}
row_kaiser_cmd() {
  local row=kaiser-cmd r port ports b
  echo "# row $row: kaiser command vassal, socket activation, node $($NODE_BIN --version)"
  CMD_VDIR=$WORK/cmd-vassals; mkdir -p "$CMD_VDIR"
  EMPEROR_CMD=$KAISER_EMPEROR_CMD EMPEROR_ARGS="--control $WORK/ctl.cmd.sock" start_emperor "$CMD_VDIR" "$WORK/cmd-emperor.log"
  mapfile -t ports < <(free_ports "${PORT_BASE:-24100}" "$RUNS")
  {
    for r in $(seq 1 "$RUNS"); do
      port=${ports[$((r - 1))]}
      cmd_vassal_text "$port" "v$r.1" > "$CMD_VDIR/.cmd$r.tmp"
      mv -f "$CMD_VDIR/.cmd$r.tmp" "$CMD_VDIR/cmd$r.toml"
      wait_200 "$port" 30 || { echo "detail: run $r: vassal did not come up"; continue; }
      wait_body "$port" "v$r.1" 10 || echo "detail: run $r: WARNING first version not served"
      sleep 1
      load_and_reload "$row" "$r" "$port" cmd_trigger
      b=$(body_of "$port")
      if [[ $b == *"v$r.2"* ]]; then echo "detail: run $r: answer after reload: ${b%$'\n'} (switched)"
      else echo "detail: run $r: WARNING answer after reload: '${b%$'\n'}' (expected v$r.2)"; fi
      rm -f "$CMD_VDIR/cmd$r.toml"
      wait_down "$port" 20 || echo "detail: run $r: WARNING port still open 20 s after removal"
    done
    echo "detail: emperor: $KAISER_EMPEROR_CMD; vassal: exec node -e (http server on fd 3), socket tcp://, ready notify, reload = file rewritten with new VERSION"
  } > "$WORK/rows/$row.out"
  sed "s/^/$row /" "$WORK/rows/$row.out"
  grep -E 'error|warn' "$WORK/cmd-emperor.log" | tail -5 | sed "s/^/$row emperor log: /"
  kill -INT "$EMP_PID" 2>/dev/null
  local i=0; while kill -0 "$EMP_PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  wait "$EMP_PID" 2>/dev/null; untrack "$EMP_PID"
}

# --- PM2 cluster mode -------------------------------------------------------------------
PM2_PLAIN='const http = require("http");
const version = process.env.VERSION;
http.createServer((req, res) => {
  const body = "Hello World " + version + "\n";
  res.writeHead(200, {"Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body)});
  res.end(body);
}).listen(Number(process.env.PORT), "127.0.0.1");'
PM2_GRACEFUL='const http = require("http");
const version = process.env.VERSION;
let closing = false;
const srv = http.createServer((req, res) => {
  const body = "Hello World " + version + "\n";
  const headers = {"Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body)};
  if (closing) headers["Connection"] = "close";
  res.writeHead(200, headers);
  res.end(body);
});
srv.keepAliveTimeout = 5000;
srv.listen(Number(process.env.PORT), "127.0.0.1");
function drain() {
  if (closing) return;
  closing = true;
  require("net").Server.prototype.close.call(srv, () => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGINT", drain);
process.on("SIGTERM", drain);'

pm2c() { PM2_HOME=$PM2_HOME_DIR "$PM2" "$@"; }
pm2_trigger() {  # pm2 reload with a new VERSION, in the background (it returns when done)
  (VERSION="v$1.2" PORT=$2 PM2_HOME=$PM2_HOME_DIR "$PM2" reload app --update-env > "$WORK/pm2reload.$1" 2>&1) &
  PM2_RELOAD_PID=$!; track "$PM2_RELOAD_PID" TERM
}
row_pm2() {  # row_pm2 ROW APPTEXT
  local row=$1 app=$2 r port ports b dpid i
  if [ ! -x "$PM2" ]; then
    echo "$row error: PM2 not installed ($PM2): cd bench/pm2 && npm install --no-audit --no-fund"; return
  fi
  echo "# row $row: PM2 cluster mode, $PROCS instances, pm2 reload"
  PM2_HOME_DIR=$WORK/pm2home.$row; mkdir -p "$PM2_HOME_DIR"
  printf '%s\n' "$app" > "$WORK/$row.app.js"
  mapfile -t ports < <(free_ports "$(( ${PORT_BASE:-24100} + 20 ))" "$RUNS")
  {
    for r in $(seq 1 "$RUNS"); do
      port=${ports[$((r - 1))]}
      VERSION="v$r.1" PORT=$port pm2c start "$WORK/$row.app.js" -i "$PROCS" --name app > "$WORK/pm2start.$r" 2>&1 \
        || { echo "detail: run $r: pm2 start failed: $(tail -3 "$WORK/pm2start.$r" | tr '\n' ' ')"; }
      if [ -z "${PM2_DAEMON:-}" ] && [ -s "$PM2_HOME_DIR/pm2.pid" ]; then
        PM2_DAEMON=$(cat "$PM2_HOME_DIR/pm2.pid"); track "$PM2_DAEMON" TERM
        echo "detail: pm2 daemon pid $PM2_DAEMON (PM2_HOME=$PM2_HOME_DIR)"
      fi
      wait_200 "$port" 30 || { echo "detail: run $r: app did not come up"; continue; }
      wait_body "$port" "v$r.1" 10 || echo "detail: run $r: WARNING first version not served"
      sleep 1
      load_and_reload "$row" "$r" "$port" pm2_trigger
      wait "$PM2_RELOAD_PID"; echo "detail: run $r: pm2 reload exit $? ($(grep -c . "$WORK/pm2reload.$r") output lines)"
      untrack "$PM2_RELOAD_PID"
      b=$(body_of "$port")
      if [[ $b == *"v$r.2"* ]]; then echo "detail: run $r: answer after reload: ${b%$'\n'} (switched)"
      else echo "detail: run $r: WARNING answer after reload: '${b%$'\n'}' (expected v$r.2)"; fi
      pm2c delete app > /dev/null 2>&1
      wait_down "$port" 20 || echo "detail: run $r: WARNING port still open 20 s after pm2 delete"
    done
    # (pm2 --version without PM2_HOME would start a daemon in ~/.pm2: ask its own daemon)
    echo "detail: pm2 $(pm2c --version 2>/dev/null | tail -1) cluster mode -i $PROCS, pm2 reload app --update-env (default kill_timeout 1600 ms, stop signal SIGINT)"
  } > "$WORK/rows/$row.out"
  sed "s/^/$row /" "$WORK/rows/$row.out"
  pm2c kill > /dev/null 2>&1
  if [ -n "${PM2_DAEMON:-}" ]; then
    i=0; while kill -0 "$PM2_DAEMON" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$PM2_DAEMON" 2>/dev/null && { echo "$row: pm2 daemon still alive after pm2 kill, SIGKILL $PM2_DAEMON"; kill -KILL "$PM2_DAEMON"; }
    untrack "$PM2_DAEMON"; PM2_DAEMON=""
  fi
}

# --- control: the kaiser app-server vassal under the same load, never reloaded -----------
noop_trigger() { :; }
row_kaiser_noreload() {
  local row=kaiser-noreload r port ports vdir=$WORK/noreload-vassals
  echo "# row $row: kaiser app-server vassal ($PROCS workers), same load, no reload (control)"
  mkdir -p "$vdir"
  EMPEROR_CMD=$KAISER_EMPEROR_CMD EMPEROR_ARGS="--control $WORK/ctl.noreload.sock" start_emperor "$vdir" "$WORK/noreload-emperor.log"
  mapfile -t ports < <(free_ports "$(( ${PORT_BASE:-24100} + 40 ))" "$RUNS")
  {
    for r in $(seq 1 "$RUNS"); do
      port=${ports[$((r - 1))]}
      stage_vassal "$vdir" "noreload$r" "$(vassal_text "noreload$r" "$port" "$PROCS")"
      publish_vassal "$vdir" "noreload$r"
      wait_200 "$port" 30 || { echo "detail: run $r: vassal did not come up"; continue; }
      sleep 1.2
      load_and_reload "$row" "$r" "$port" noop_trigger
      rm -f "$vdir/noreload$r.ini"
      wait_down "$port" 20 || echo "detail: run $r: WARNING port still open 20 s after removal"
    done
    echo "detail: emperor: $KAISER_EMPEROR_CMD; vassal: uwsgi-bench/lib/vassal.ini.tmpl, $PROCS workers; nothing triggered"
  } > "$WORK/rows/$row.out"
  sed "s/^/$row /" "$WORK/rows/$row.out"
  kill -INT "$EMP_PID" 2>/dev/null
  local i=0; while kill -0 "$EMP_PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  wait "$EMP_PID" 2>/dev/null; untrack "$EMP_PID"
}

# ---------------------------------------------------------------------------------------
{ cat "$UB/lib/vassal.ini.tmpl"; echo "reload-mode = chain"; } > "$WORK/vassal-chainmode.ini.tmpl"
{ cat "$UB/lib/vassal.ini.tmpl"; echo "reload-mode = all"; } > "$WORK/vassal-allmode.ini.tmpl"

for row in $ROWS; do
  t_row=$(now)
  case $row in
    uwsgi-config) shared_row "$row" uwsgi config ;;
    uwsgi-chain)  shared_row "$row" uwsgi chain ;;
    kaiser-config) shared_row "$row" kaiser config ;;
    kaiser-chain) shared_row "$row" kaiser chain ;;
    kaiser-config-chainmode) shared_row "$row" kaiser config "VASSAL_TEMPLATE=$WORK/vassal-chainmode.ini.tmpl" ;;
    kaiser-config-allmode) shared_row "$row" kaiser config "VASSAL_TEMPLATE=$WORK/vassal-allmode.ini.tmpl" ;;
    kaiser-cmd) row_kaiser_cmd ;;
    pm2) row_pm2 pm2 "$PM2_PLAIN" ;;
    pm2-graceful) row_pm2 pm2-graceful "$PM2_GRACEFUL" ;;
    kaiser-noreload) row_kaiser_noreload ;;
    *) echo "error: unknown row $row"; continue ;;
  esac
  echo "# row $row took $(ms_between "$t_row" "$(now)" | cut -d. -f1) ms"
done

# ---------------------------------------------------------------------------------------
echo
echo "## Reload under load: wrk -t1 -c$LOAD_CONNS + sequential prober, reload ${TOUCH_AT}s into ${DURATION}s, $RUNS runs per row ($(date -I), $(nproc) CPUs; reload window = [trigger - 50 ms, trigger + ${RELOAD_WINDOW} s])"
echo
"$PYTHON" - "$WORK/rows" "$RELOAD_WINDOW" $ROWS <<'EOF'
import json, os, re, statistics, sys
d, W = sys.argv[1], float(sys.argv[2])
label = {
  "uwsgi-config": ("uWSGI emperor", "vassal file touched (graceful reload)"),
  "uwsgi-chain": ("uWSGI emperor", "chain reload (lazy-apps + touch-chain-reload)"),
  "kaiser-config": ("kaiser app-server vassal", "vassal file touched, default reload mode (chain)"),
  "kaiser-chain": ("kaiser app-server vassal", "chain reload (lazy-apps + touch-chain-reload)"),
  "kaiser-config-chainmode": ("kaiser app-server vassal", "vassal file touched, reload-mode = chain"),
  "kaiser-config-allmode": ("kaiser app-server vassal", "vassal file touched, reload-mode = all"),
  "kaiser-cmd": ("kaiser command vassal (Node on fd 3, socket activation)", "vassal file rewritten (new env value)"),
  "pm2": ("PM2 cluster mode, plain app", "pm2 reload"),
  "pm2-graceful": ("PM2 cluster mode, app drains on SIGINT", "pm2 reload"),
  "kaiser-noreload": ("control: kaiser app-server vassal", "none (same load, no reload)"),
}
def med(v):
    return "%g" % statistics.median(v) if v else "–"
def runs_txt(v):
    return "/".join("%g" % x for x in v)
print("| server | reload | failed requests: sum (per run) | wrk read errors (per run) | longest gap ms: median (per run) "
      "| longest gap in reload window ms: median (per run) | longest gap outside it ms: median (per run) | kaiser target: 0 failed, gap ≤ 50 ms |")
print("|---|---|---:|---|---:|---:|---:|---|")
for row in sys.argv[3:]:
    p = os.path.join(d, row + ".out")
    runs = []
    if os.path.exists(p):
        for line in open(p):
            m = re.match(r"detail: run (\d+)[^:]*: prober ok=(\d+) failed=(\d+).*?max_gap=([\d.]+)ms \(gap began (-?\d+) ms after touch\).*?non2xx=(\d+) \[([^\]]*)\]", line)
            if not m:
                continue
            sock = m.group(7)
            def se(k):
                mm = re.search(k + r" (\d+)", sock); return int(mm.group(1)) if mm else 0
            read = se("read")
            hard = se("connect") + se("write") + se("timeout")
            fail = int(m.group(3)) + int(m.group(6)) + hard + (0 if row.startswith("uwsgi") else read)
            runs.append({"fail": fail, "read": read, "gap": float(m.group(4)), "began": int(m.group(5))})
    gl = os.path.join(d, row + ".gaps")
    entries = [json.loads(x) for x in open(gl)] if os.path.exists(gl) else []
    win, out = [], []
    for run, e in zip(runs, entries):
        if row == "kaiser-noreload" or not e.get("gap_started_at"):
            continue
        t_touch = e["gap_started_at"] - run["began"] / 1000.0
        wi = [g for s, g in e["gaps"] if t_touch - 0.05 <= s <= t_touch + W]
        ou = [g for s, g in e["gaps"] if not (t_touch - 0.05 <= s <= t_touch + W)]
        win.append(max(wi) if wi else 0.0); out.append(max(ou) if ou else 0.0)
    who, how = label.get(row, (row, "?"))
    if not runs:
        print("| %s | %s | FAILED (no run completed, see the raw output) | | | | | |" % (who, how)); continue
    fails = [r["fail"] for r in runs]; reads = [r["read"] for r in runs]; gaps = [r["gap"] for r in runs]
    tgt = ""
    if row.startswith("kaiser") and row != "kaiser-noreload":
        ok_f = sum(fails) == 0
        ok_g = statistics.median(gaps) <= 50
        ok_w = bool(win) and statistics.median(win) <= 50
        tgt = "failed: %s; gap: %s; in reload window: %s" % ("met" if ok_f else "NOT met", "met" if ok_g else "NOT met",
                                                             "met" if ok_w else "NOT met")
    readtxt = runs_txt(reads) + (" (EOF-delimited body: ~1 per request, not counted)" if row.startswith("uwsgi") else "")
    print("| %s | %s | %d (%s) | %s | %s (%s) | %s (%s) | %s (%s) | %s |" % (
        who, how, sum(fails), runs_txt(fails), readtxt, med(gaps), runs_txt(gaps),
        med(win) if row != "kaiser-noreload" else "n/a", runs_txt(win), med(out) if row != "kaiser-noreload" else med(gaps),
        runs_txt(out) if row != "kaiser-noreload" else "whole run", tgt))
EOF
echo
echo "# total $(ms_between "$T_ALL" "$(now)" | cut -d. -f1) ms; raw output: $OUT"
