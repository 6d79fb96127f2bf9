#!/usr/bin/env bash
# mass.sh: mass hosting (issue 7), uWSGI's emperor and kaiser one after the other.
#
# 1. Scale, both sides (SIDES="uwsgi kaiser"): N app-server hello vassals (default 1000;
#    the same ini file for both: uwsgi-bench/lib/vassal.ini.tmpl = plugin python3,
#    http-socket, wsgi-file hitme.py, master, 1 worker), staged and dropped into the
#    watched directory at once (one `mv -t`).  uWSGI: `/usr/bin/uwsgi --emperor DIR
#    --emperor-freq 1`; kaiser: `node bin/kaiser.js --emperor DIR` (defaults: accounting
#    every 2 s, spawn concurrency 32, runtime host on).  Measured:
#      - time from the mv until every port answered 200 (capped at TIMEOUT s),
#      - total PSS of the emperor's process tree (sum of /proc/PID/smaps_rollup Pss over
#        the emperor and all its descendants) and per vassal ((tree - emperor) / N),
#      - emperor RSS, and the emperor's idle CPU over IDLE s (from /proc/PID/stat),
#    and for kaiser only:
#      - emperor RSS over an idle soak of SOAK s (60; SOAK=600 for the 10-minute soak):
#        start, every 10 s, end, and the least-squares trend over those samples,
#      - CYCLES add/remove cycles (200; CYCLES=1000) of one extra vassal next to the N
#        (file renamed in -> first 200 -> file removed -> port refused), emperor RSS
#        before and after (and after 10 s more) = flatness.
# 2. On-demand, kaiser only (ONDEMAND=0 skips): OD_N (10000) declared on-demand vassals
#    (`on-demand = true`, http-socket, wsgi-file, `idle = 30`) dropped in at once;
#    the time until every socket listens (counted in /proc/net/tcp, never by connecting,
#    which would wake a vassal), emperor RSS then (target <= 150 MB), processes running
#    before any request, fds of the emperor and its helpers against their limit, then
#    the wake-up latency (first request on a fresh connection -> 200) of 10 vassals
#    spread over the set (median; target <= 300 ms).  If OD_N does not come up, the error
#    is reported and the next smaller size of OD_FALLBACK ("5000 2000 1000") is tried.
#
# Output: detail/metric lines, `figure:` lines, then a markdown summary; raw output is
# saved to bench/results/mass.DATE.txt (OUT=FILE to choose).
#
# Env: N (1000), SIDES ("uwsgi kaiser"), TIMEOUT (300 s per wait), SETTLE (5),
#      IDLE (30), SOAK (60), CYCLES (200), ONDEMAND (1), OD_N (10000), OD_FALLBACK,
#      OD_SAMPLES (10), PORT_BASE (26000; on-demand ports from OD_PORT_BASE 21000: keep
#      them below the ephemeral range, /proc/sys/net/ipv4/ip_local_port_range, 32768+ here,
#      or client connections of anything on the machine can hold some of them),
#      PROBE_THREADS (8), KAISER_ROOT, OUT.
# Time: about 4 min per side with N=1000 plus SOAK, plus about 3 min for on-demand.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/kaiser.sh
source "$HERE/lib/kaiser.sh"
# shellcheck source=uwsgi-bench/lib/common.sh
source "$UB/lib/common.sh"     # WORK, track/cleanup, start_emperor, PROBE, metric/figure

N=${N:-1000}
SIDES=${SIDES-"uwsgi kaiser"}   # SIDES="" skips the scale part
TIMEOUT=${TIMEOUT:-300}
SETTLE=${SETTLE:-5}
IDLE=${IDLE:-30}
SOAK=${SOAK:-60}
CYCLES=${CYCLES:-200}
ONDEMAND=${ONDEMAND:-1}
OD_N=${OD_N:-10000}
OD_FALLBACK=${OD_FALLBACK:-"5000 2000 1000"}
OD_SAMPLES=${OD_SAMPLES:-10}
STOP_GRACE=${STOP_GRACE:-120}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$HERE/results/mass.$STAMP.txt}
mkdir -p "$(dirname "$OUT")"
exec > >(tee "$OUT") 2>&1

echo "mass: date=$(date -Is) host_cpus=$(nproc) mem=$(awk '/MemTotal/{printf "%.1fGiB", $2/1048576}' /proc/meminfo) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\" N=$N sides=\"$SIDES\" timeout=${TIMEOUT}s idle=${IDLE}s soak=${SOAK}s cycles=$CYCLES ondemand=$ONDEMAND od_n=$OD_N"
echo "mass: $(kaiser_describe)"
echo "mass: uwsgi=$(/usr/bin/uwsgi --version 2>&1 | head -1) ulimit_n soft=$(ulimit -Sn) hard=$(ulimit -Hn)"
T_ALL=$(now)
declare -A R   # results for the summary: R[side.key]=value

kb_of() { awk -v k="$2" '$1==k{print $2}' <<< "$1"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null; }

# stop_emperor: SIGINT, wait up to STOP_GRACE s, then SIGKILL whatever is left of its tree
stop_emperor() {
  local snap t0 e
  snap=$(tree_snapshot "$EMP_PID")
  t0=$(now)
  kill -INT "$EMP_PID" 2>/dev/null
  while kill -0 "$EMP_PID" 2>/dev/null && [ "$(ms_between "$t0" "$(now)" | cut -d. -f1)" -lt $((STOP_GRACE * 1000)) ]; do sleep 0.2; done
  wait "$EMP_PID" 2>/dev/null
  detail "emperor exit after SIGINT: $(ms_between "$t0" "$(now)") ms"
  sleep 2
  local left=0
  for e in $snap; do alive_same "$e" && { left=$((left + 1)); kill -KILL "${e%%:*}" 2>/dev/null; }; done
  [ $left -gt 0 ] && detail "WARNING: $left processes of the old tree were still alive 2 s after the emperor exited: SIGKILLed"
  untrack "$EMP_PID"; EMP_PID=""
}

# --- 1. scale ---------------------------------------------------------------------------
scale_side() {
  local side=$1 vdir=$WORK/$1/vassals stage=$WORK/$1/stage ports=$WORK/$1/ports i port m0 m t0 t1 rc answered
  mkdir -p "$vdir" "$stage"
  echo
  echo "=== scale $side: N=$N ($(date +%T), loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  free_ports "${PORT_BASE:-26000}" "$N" > "$ports" || die "not enough free ports"
  i=0
  while read -r port; do
    i=$((i + 1)); vassal_text "mass$i" "$port" 1 > "$stage/mass$i.ini"
  done < "$ports"
  if [ "$side" = uwsgi ]; then
    EMPEROR_CMD="$UWSGI_BIN --emperor {dir}" EMPEROR_ARGS="--emperor-freq 1" start_emperor "$vdir" "$WORK/$side.log"
  else
    EMPEROR_CMD=$KAISER_EMPEROR_CMD EMPEROR_ARGS="--control $WORK/ctl.sock" start_emperor "$vdir" "$WORK/$side.log"
  fi
  m0=$("${PROBE[@]}" mem --pid "$EMP_PID")
  detail "$side emperor pid $EMP_PID; before vassals: emperor RSS $(kb_of "$m0" root_rss_kb) kB, tree $(kb_of "$m0" procs) processes"
  t0=$(now)
  mv -t "$vdir" "$stage"/*.ini
  run_wait "$WORK/$side.waitall" "${PROBE[@]}" waitall --ports-file "$ports" --timeout "$TIMEOUT" --threads "${PROBE_THREADS:-8}"
  rc=$?
  t1=$(awk '/^t /{print $2}' "$WORK/$side.waitall"); answered=$(awk '/^answered/{print $2}' "$WORK/$side.waitall")
  if [ $rc -ne 0 ] || [ "$t1" = timeout ]; then
    R[$side.ready]="timeout (${answered:-?}/$N after ${TIMEOUT} s)"
    detail "$side: only ${answered:-?} of $N answered 200 within ${TIMEOUT}s; measuring memory/CPU anyway"
    tail -5 "$WORK/$side.log" | sed "s/^/detail: $side log: /"
    figure "mass_${side}_all_ready_n$N" timeout s
  else
    R[$side.ready]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    detail "$side: all $answered of $N answered 200 after ${R[$side.ready]} s"
    figure "mass_${side}_all_ready_n$N" "${R[$side.ready]}" s
  fi
  sleep "$SETTLE"
  m=$("${PROBE[@]}" mem --pid "$EMP_PID")
  R[$side.procs]=$(kb_of "$m" procs)
  R[$side.pss]=$(mib "$(kb_of "$m" tree_pss_kb)")
  R[$side.rss_tree]=$(mib "$(kb_of "$m" tree_rss_kb)")
  R[$side.erss]=$(mib "$(kb_of "$m" root_rss_kb)")
  R[$side.epss]=$(mib "$(kb_of "$m" root_pss_kb)")
  R[$side.pervassal]=$(awk -v t="$(kb_of "$m" tree_pss_kb)" -v e="$(kb_of "$m" root_pss_kb)" -v n="$N" 'BEGIN{printf "%.2f", (t-e)/1024/n}')
  detail "$side: processes in the emperor's tree: ${R[$side.procs]} (emperor included; N=$N)"
  metric "mass_${side}_tree_pss_n$N" "${R[$side.pss]}" MiB
  metric "mass_${side}_pss_per_vassal_n$N" "${R[$side.pervassal]}" MiB
  metric "mass_${side}_tree_rss_n$N" "${R[$side.rss_tree]}" MiB
  metric "mass_${side}_emperor_rss_n$N" "${R[$side.erss]}" MiB
  metric "mass_${side}_emperor_pss_n$N" "${R[$side.epss]}" MiB
  run_wait "$WORK/$side.cpu" "${PROBE[@]}" cpu --pid "$EMP_PID" --duration "$IDLE"
  R[$side.cpu]=$(awk '/^cpu_percent/{printf "%.3f", $2}' "$WORK/$side.cpu")
  R[$side.treecpu]=$(awk '/^tree_cpu_percent/{printf "%.3f", $2}' "$WORK/$side.cpu")
  metric "mass_${side}_emperor_idle_cpu_n$N" "${R[$side.cpu]}" "%_of_one_core(${IDLE}s)"
  metric "mass_${side}_tree_idle_cpu_n$N" "${R[$side.treecpu]}" "%_of_one_core(${IDLE}s)"
  detail "$side emperor cpu seconds over ${IDLE}s: $(awk '/^cpu_seconds/{print $2}' "$WORK/$side.cpu")"

  if [ "$side" = kaiser ]; then
    # idle soak: emperor RSS at start, every 10 s, at the end
    local s=0 samples=() r0 r1
    r0=$(rss_kb "$EMP_PID")
    while [ $s -lt "$SOAK" ]; do
      sleep $(( SOAK - s < 10 ? SOAK - s : 10 )); s=$(( s + (SOAK - s < 10 ? SOAK - s : 10) ))
      samples+=("$(rss_kb "$EMP_PID")")
    done
    r1=$(rss_kb "$EMP_PID")
    # RSS swings by a few MB between garbage collections: the least-squares slope over all samples (10 s apart),
    # scaled to the soak's length, says more about growth than the first and last sample alone.
    local fit lo hi trend
    fit=$(echo "$r0 ${samples[*]}" | awk '{for (i = 1; i <= NF; i++) {x = (i - 1) * 10; sx += x; sy += $i; sxx += x * x; sxy += x * $i; if (i == 1 || $i < lo) lo = $i; if ($i > hi) hi = $i}
      n = NF; d = n * sxx - sx * sx; slope = d > 0 ? (n * sxy - sx * sy) / d : 0
      printf "%.1f %.1f %+.2f", lo / 1024, hi / 1024, slope * (n - 1) * 10 / 1024}')
    read -r lo hi trend <<< "$fit"
    R[soak]="$(mib "$r0") -> $(mib "$r1") MiB over ${SOAK} s (samples $lo-$hi, trend $trend MiB)"
    detail "kaiser soak: emperor RSS kB every 10 s over ${SOAK}s: $r0 ${samples[*]}"
    metric "mass_kaiser_emperor_rss_soak_start_n$N" "$(mib "$r0")" MiB
    metric "mass_kaiser_emperor_rss_soak_end_n$N" "$(mib "$r1")" MiB
    metric "mass_kaiser_emperor_rss_soak_trend_n$N" "$trend" MiB
    # add/remove cycles of one more vassal
    local cport cyc
    cport=$(free_ports "$(( ${PORT_BASE:-26000} + N + 500 ))" 1)
    vassal_text cycler "$cport" 1 > "$WORK/cycler.ini"
    r0=$(rss_kb "$EMP_PID")
    run_wait "$WORK/cycles.out" "$PYTHON" - "$UB/lib" "$vdir" "$WORK/cycler.ini" "$cport" "$CYCLES" <<'EOF'
import os, statistics, sys, time
sys.path.insert(0, sys.argv[1]); import probe
vdir, text, port, cycles = sys.argv[2], open(sys.argv[3]).read(), int(sys.argv[4]), int(sys.argv[5])
up, down, fails = [], [], 0
for i in range(cycles):
    tmp, dst = os.path.join(vdir, ".cycler.tmp"), os.path.join(vdir, "cycler.ini")
    open(tmp, "w").write(text)
    t0 = time.time(); os.rename(tmp, dst)
    ok = False
    while time.time() - t0 < 30:
        if probe.http_get(port, 2.0)[0] == 200: ok = True; break
        time.sleep(0.005)
    up.append(time.time() - t0)
    t1 = time.time(); os.unlink(dst)
    while time.time() - t1 < 30:
        if not probe.can_connect(port, 0.5): break
        time.sleep(0.005)
    else:
        ok = False
    down.append(time.time() - t1)
    fails += not ok
print("cycles %d failed %d up_median_ms %.1f down_median_ms %.1f total_s %.1f" % (
    cycles, fails, statistics.median(up) * 1000, statistics.median(down) * 1000, sum(up) + sum(down)))
EOF
    r1=$(rss_kb "$EMP_PID"); sleep 10; local r2; r2=$(rss_kb "$EMP_PID")
    cyc=$(cat "$WORK/cycles.out")
    detail "kaiser add/remove: $cyc"
    detail "kaiser add/remove: emperor RSS before $r0 kB, right after $r1 kB, 10 s later $r2 kB"
    R[cycles]="$(mib "$r0") -> $(mib "$r1") MiB (10 s later $(mib "$r2")) after $CYCLES cycles, $(awk '{print $4}' <<< "$cyc") failed"
    metric "mass_kaiser_emperor_rss_before_cycles_n$N" "$(mib "$r0")" MiB
    metric "mass_kaiser_emperor_rss_after_${CYCLES}_cycles_n$N" "$(mib "$r1")" MiB
    R[erss_end]=$(mib "$(rss_kb "$EMP_PID")")
  fi
  detail "$side emperor: $(tr '\0' ' ' < "/proc/$EMP_PID/cmdline")"
  stop_emperor
}

# --- 2. on-demand -----------------------------------------------------------------------
# listening_count PORTSFILE -> how many of these ports have a LISTEN socket
listening_count() {
  "$PYTHON" - "$1" <<'EOF'
import sys
want = set(int(x) for x in open(sys.argv[1]).read().split())
seen = set()
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for ln in open(f).read().splitlines()[1:]:
            x = ln.split()
            if x[3] == "0A":
                p = int(x[1].rsplit(":", 1)[1], 16)
                if p in want: seen.add(p)
    except OSError:
        pass
print(len(seen))
EOF
}

ondemand_try() {  # ondemand_try COUNT -> 0 if all sockets listened; sets R[od.*]
  local n=$1 vdir=$WORK/od$1/vassals stage=$WORK/od$1/stage ports=$WORK/od$1/ports port i t0 t_bound=timeout c=0 m
  mkdir -p "$vdir" "$stage"
  echo
  echo "=== on-demand kaiser: $n vassals ($(date +%T), loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  free_ports "${OD_PORT_BASE:-21000}" "$n" > "$ports" || { detail "on-demand: not enough free ports for $n"; return 1; }
  i=0
  while read -r port; do
    i=$((i + 1))
    printf '[uwsgi]\nhttp-socket = 127.0.0.1:%s\nwsgi-file = %s\non-demand = true\nidle = 30\nprocesses = 1\n' \
      "$port" "$APP" > "$stage/od$i.ini"
  done < "$ports"
  EMPEROR_CMD=$KAISER_EMPEROR_CMD EMPEROR_ARGS="--control $WORK/ctl-od.sock" start_emperor "$vdir" "$WORK/od$n.log"
  detail "on-demand: emperor pid $EMP_PID, limits: $(awk '/Max open files/{print "soft "$4" hard "$5}' "/proc/$EMP_PID/limits")"
  t0=$(now)
  find "$stage" -name '*.ini' -print0 | xargs -0 mv -t "$vdir"
  while [ "$(ms_between "$t0" "$(now)" | cut -d. -f1)" -lt $((TIMEOUT * 1000)) ]; do
    kill -0 "$EMP_PID" 2>/dev/null || { detail "on-demand: the emperor exited"; break; }
    c=$(listening_count "$ports")
    [ "$c" -ge "$n" ] && { t_bound=$(now); break; }
    sleep 1
  done
  if [ "$t_bound" = timeout ]; then
    local waited died=""
    waited=$(ms_between "$t0" "$(now)" | awk '{printf "%.0f", $1/1000}')
    kill -0 "$EMP_PID" 2>/dev/null || died="the emperor exited ($(tail -1 "$WORK/od$n.log" | cut -c1-160 | tr '|' '/')); "
    detail "on-demand n=$n: only $c of $n sockets listening after $(ms_between "$t0" "$(now)") ms; emperor RSS $(mib "$(rss_kb "$EMP_PID")") MiB, fds $(ls "/proc/$EMP_PID/fd" 2>/dev/null | wc -l)"
    # error kinds, counted (timestamps, file names and ports folded)
    grep -iE 'error|EMFILE|ENFILE|too many|limit' "$WORK/od$n.log" \
      | sed -E 's/^.{24} - //; s#/[^ ]*/od[0-9]+\.ini#odN.ini#g; s/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g' \
      | sort | uniq -c | sort -rn | head -8 | sed 's/^/detail: on-demand log (count, message): /'
    grep -iE 'error' "$WORK/od$n.log" | head -3 | sed 's/^/detail: on-demand first errors: /'
    tail -5 "$WORK/od$n.log" | sed 's/^/detail: on-demand log tail: /'
    R[od.error]="${R[od.error]:+${R[od.error]}; }n=$n: ${died}$c of $n sockets listening after ${waited} s, first error: $(grep -iE 'error|EMFILE' "$WORK/od$n.log" | head -1 | sed -E 's/^.{24} - //' | cut -c1-200 | tr '|' '/')"
    if kill -0 "$EMP_PID" 2>/dev/null; then stop_emperor; else wait "$EMP_PID" 2>/dev/null; untrack "$EMP_PID"; EMP_PID=""; fi
    return 1
  fi
  R[od.n]=$n
  R[od.bound]=$(ms_between "$t0" "$t_bound" | awk '{printf "%.1f", $1/1000}')
  detail "on-demand n=$n: all $n sockets listening ${R[od.bound]} s after the mv"
  sleep "$SETTLE"
  m=$("${PROBE[@]}" mem --pid "$EMP_PID")
  R[od.erss]=$(mib "$(kb_of "$m" root_rss_kb)")
  R[od.procs]=$(kb_of "$m" procs)
  R[od.pss]=$(mib "$(kb_of "$m" tree_pss_kb)")
  metric "ondemand_emperor_rss_n$n" "${R[od.erss]}" MiB
  metric "ondemand_tree_pss_n$n" "${R[od.pss]}" MiB
  metric "ondemand_procs_before_requests_n$n" "${R[od.procs]}" processes
  local p
  for p in $("${PROBE[@]}" tree --pid "$EMP_PID"); do
    detail "on-demand process before requests: pid $p $(tr '\0\n' '  ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-90) fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l) $(awk '/Max open files/{print "nofile_soft="$4" hard="$5}' "/proc/$p/limits" 2>/dev/null) rss_kb=$(rss_kb "$p")"
  done
  grep -iE 'open.file|nofile|rlimit' "$WORK/od$n.log" | head -3 | sed 's/^/detail: on-demand log: /'
  # wake-ups: OD_SAMPLES vassals spread over the set, one at a time
  local lat=() k idx r
  for k in $(seq 0 $((OD_SAMPLES - 1))); do
    idx=$(( k * n / OD_SAMPLES + 1 + k ))
    [ "$idx" -gt "$n" ] && idx=$n
    port=$(sed -n "${idx}p" "$ports")
    run_wait "$WORK/wake.$k" "${PROBE[@]}" get --port "$port" --timeout 10
    r=$(awk '/^result/{print $2}' "$WORK/wake.$k")
    ms=$(ms_between "$(awk '/^t_start/{print $2}' "$WORK/wake.$k")" "$(awk '/^t_end/{print $2}' "$WORK/wake.$k")")
    detail "wake-up od$idx (port $port): result $r after $ms ms"
    [ "$r" = 200 ] && lat+=("$ms")
  done
  R[od.wake]=$(median "${lat[@]}")
  R[od.wake_all]="${lat[*]}"
  R[od.wake_ok]="${#lat[@]}/$OD_SAMPLES"
  m=$("${PROBE[@]}" mem --pid "$EMP_PID")
  R[od.procs_after]=$(kb_of "$m" procs)
  detail "on-demand: processes after $OD_SAMPLES wake-ups: ${R[od.procs_after]}; emperor RSS $(mib "$(kb_of "$m" root_rss_kb)") MiB"
  metric "ondemand_wakeup_median_n$n" "${R[od.wake]}" ms
  figure "ondemand_wakeup_median_n$n" "${R[od.wake]}" ms
  stop_emperor
  return 0
}

for side in $SIDES; do scale_side "$side"; done
if [ "$ONDEMAND" = 1 ]; then
  for n in $OD_N $OD_FALLBACK; do
    [ "$n" -le "$OD_N" ] || continue
    ondemand_try "$n" && break
  done
fi

# --- summary ----------------------------------------------------------------------------
ratio() { awk -v x="$1" -v y="$2" 'BEGIN{ if (x ~ /^[0-9.]+$/ && y ~ /^[0-9.]+$/ && x+0 > 0) printf "%.2f", y/x; else print "–" }'; }
if [ -n "$SIDES" ]; then
echo
echo "## Mass hosting: $N app-server hello vassals (1 worker, http-socket), $(date -I), $(nproc) CPUs"
echo
echo "| figure | uWSGI emperor (--emperor-freq 1) | kaiser emperor | kaiser / uWSGI | kaiser target |"
echo "|---|---:|---:|---:|---|"
echo "| all $N serving 200 after (s) | ${R[uwsgi.ready]:-–} | ${R[kaiser.ready]:-–} | $(ratio "${R[uwsgi.ready]:-}" "${R[kaiser.ready]:-}") | less than uWSGI |"
echo "| processes in the emperor's tree | ${R[uwsgi.procs]:-–} | ${R[kaiser.procs]:-–} | | |"
echo "| total PSS of the tree (MiB) | ${R[uwsgi.pss]:-–} | ${R[kaiser.pss]:-–} | $(ratio "${R[uwsgi.pss]:-}" "${R[kaiser.pss]:-}") | ≤ uWSGI |"
echo "| PSS per vassal (MiB, tree minus emperor / N) | ${R[uwsgi.pervassal]:-–} | ${R[kaiser.pervassal]:-–} | $(ratio "${R[uwsgi.pervassal]:-}" "${R[kaiser.pervassal]:-}") | |"
echo "| emperor RSS (MiB) | ${R[uwsgi.erss]:-–} | ${R[kaiser.erss]:-–} | $(ratio "${R[uwsgi.erss]:-}" "${R[kaiser.erss]:-}") | ≤ 80 MB |"
echo "| emperor idle CPU over ${IDLE} s (% of one core) | ${R[uwsgi.cpu]:-–} | ${R[kaiser.cpu]:-–} (accounting on) | | ≤ 2 % |"
echo "| whole tree idle CPU over ${IDLE} s (% of one core) | ${R[uwsgi.treecpu]:-–} | ${R[kaiser.treecpu]:-–} | | |"
echo "| kaiser emperor RSS, idle soak | | ${R[soak]:-–} | | flat |"
echo "| kaiser emperor RSS, add/remove cycles | | ${R[cycles]:-–} | | flat |"
fi
if [ "$ONDEMAND" = 1 ]; then
  echo
  echo "### On-demand (kaiser): ${R[od.n]:-$OD_N} declared vassals (on-demand, idle = 30)"
  echo
  echo "| figure | kaiser | target |"
  echo "|---|---:|---|"
  [ -n "${R[od.error]:-}" ] && echo "| error | ${R[od.error]} | |"
  echo "| vassals declared and listening | ${R[od.n]:-none} | 10000 |"
  echo "| all sockets listening after (s) | ${R[od.bound]:-–} | |"
  echo "| emperor RSS, all sockets bound (MiB) | ${R[od.erss]:-–} | ≤ 150 MB |"
  echo "| total PSS of the tree (MiB) | ${R[od.pss]:-–} | |"
  echo "| processes before any request | ${R[od.procs]:-–} | |"
  echo "| wake-up, first request → 200, median of ${R[od.wake_ok]:-?} (ms) | ${R[od.wake]:-–} (${R[od.wake_all]:-}) | ≤ 300 ms |"
  echo "| processes after the wake-ups | ${R[od.procs_after]:-–} | |"
fi
echo
echo "# total $(ms_between "$T_ALL" "$(now)" | cut -d. -f1) ms; raw output: $OUT"
