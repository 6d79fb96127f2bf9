#!/usr/bin/python3
"""ASGI servers side by side in one run (issue 17): kaiser's ASGI worker, uvicorn, hypercorn and daphne (all from
Debian), the same FastAPI app (bench/apps/asgi_hello.py: GET / -> {"hello": "world"}, a websocket echo on /ws).

  throughput  wrk -t2 -c64 on GET / for DURATION s, keep-alive and `Connection: close` (bench/lib/wrk-close.lua),
              the same number of processes for each server (PROCESSES, default "2 1": daphne has no workers
              option, so it runs in the 1-process rows only); access logs off everywhere. Each server is measured
              RUNS times, interleaved with the others; the median run (by requests/s) is reported with its p50/p99.
  websocket   echo round trips per second: bench/lib/ws-echo.mjs, 64 connections, each one message in flight,
              1 process per server.
  pss         a 1-worker FastAPI vassal under the kaiser emperor (master + worker; and with the emperor's reaper,
              a /bin/sh shared by all vassals; the emperor excluded) against `uvicorn --workers 1` (one process),
              after 20 requests.
  reload      a kaiser ASGI vassal (2 workers) under `wrk -t1 -c16` while a sequential prober (one request at a
              time, a fresh connection each) records failures and the longest stretch without a 200; the vassal
              file is touched 2 s in (chain reload). RUNS rounds of RELOAD_VARIANTS (default: touch (`load-nice = 10`),
              touch-nice0: the same with `load-nice = 0`, the default; control: no touch, the gaps a busy machine makes by itself).
  CPU         every throughput and websocket row also reports the server's own CPU time (utime + stime of its
              process tree) per request: on a shared machine the requests/s of a run depend on what else runs,
              the CPU a server spends per request much less.

Prints detail lines, markdown tables and `figure:` lines; the raw output goes to bench/results/asgi.DATE.txt too.
Run it under the bench lock on a shared machine:  flock /work/bench.lock bench/asgi.sh
Env: DURATION (8), RELOAD_DURATION (15), RUNS (3), PROCESSES ("2 1"), SERVERS ("kaiser uvicorn hypercorn daphne"), PARTS
("throughput websocket pss reload"), RELOAD_VARIANTS
("touch touch-nice0 control"), KAISER_ROOT (this checkout), PORT_BASE (24400).
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('KAISER_ROOT') or os.path.dirname(HERE)
APPS = os.path.join(HERE, 'apps')
PY = '/usr/bin/python3'
NODE = os.environ.get('NODE') or 'node'
DURATION = int(os.environ.get('DURATION', '8'))
RUNS = int(os.environ.get('RUNS', '3'))
PROCESSES = [int(p) for p in os.environ.get('PROCESSES', '2 1').split()]
SERVERS = os.environ.get('SERVERS', 'kaiser uvicorn hypercorn daphne').split()
PARTS = os.environ.get('PARTS', 'throughput websocket pss reload').split()
PORT = [int(os.environ.get('PORT_BASE', '24400'))]
RELOAD_S = int(os.environ.get('RELOAD_DURATION', '15'))

sys.path.insert(0, os.path.join(HERE, 'lib'))
from procfs import comm, pss_kb, stat_fields, tree  # noqa: E402 (bench/lib/procfs.py)
import procs  # noqa: E402 (bench/lib/procs.py)
from procs import STARTED, log_tail, stop, wait_200  # noqa: E402,F401
from procs import http_get as http_status  # noqa: E402


def out(line=''):
    print(line, flush=True)


def next_port():
    while True:
        PORT[0] += 1
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', PORT[0]))
                return PORT[0]
            except OSError:
                continue


def command(server, port, processes):
    if server == 'kaiser':
        return [NODE, os.path.join(ROOT, 'bin/kaiser.js'), '--http-socket', '127.0.0.1:%d' % port, '--asgi',
                'asgi_hello:app', '--processes', str(processes), '--disable-logging']
    if server == 'uvicorn':
        return [PY, '-m', 'uvicorn', 'asgi_hello:app', '--host', '127.0.0.1', '--port', str(port), '--workers',
                str(processes), '--no-access-log', '--log-level', 'warning']
    if server == 'hypercorn':
        return [PY, '-m', 'hypercorn', '--bind', '127.0.0.1:%d' % port, '--workers', str(processes), 'asgi_hello:app']
    if server == 'daphne':
        return None if processes != 1 else [PY, '-m', 'daphne', '-v', '0', '-b', '127.0.0.1', '-p', str(port),
                                            'asgi_hello:app']
    raise ValueError(server)


def start(argv, env=None):
    return procs.start(argv, cwd=APPS, env=env)


def cpu_ticks(root):
    """utime + stime (clock ticks) of `root` and its descendants: the server's own CPU, robust to a busy machine."""
    total = 0
    for pid in tree(root):
        f = stat_fields(pid)
        if f is not None:
            total += int(f[11]) + int(f[12])
    return total


HZ = os.sysconf('SC_CLK_TCK')


def cpu_us_per(ticks, n):
    return ticks * 1e6 / HZ / n if n else 0.0


def wrk(port, close, duration=DURATION, threads=2, conns=64):
    argv = ['wrk', '-t%d' % threads, '-c%d' % conns, '-d%ds' % duration, '--latency']
    if close:
        argv += ['-s', os.path.join(HERE, 'lib/wrk-close.lua')]
    text = subprocess.run(argv + ['http://127.0.0.1:%d/' % port], capture_output=True, text=True,
                          timeout=duration + 30).stdout

    def grab(pattern, default='0'):
        m = re.search(pattern, text)
        return m.group(1) if m else default
    errors = sum(int(x) for x in re.findall(r'(?:connect|read|write|timeout) (\d+)', grab(r'(Socket errors:[^\n]*)', '')))
    return {'rps': float(grab(r'Requests/sec:\s+([\d.]+)')), 'p50': ms(grab(r'\n\s+50%\s+(\S+)', '0us')),
            'p99': ms(grab(r'\n\s+99%\s+(\S+)', '0us')), 'non2xx': int(grab(r'Non-2xx or 3xx responses:\s+(\d+)')),
            'errors': errors, 'requests': int(grab(r'(\d+) requests in')),
            'error_kinds': grab(r'Socket errors:\s*([^\n]*)', '')}


def ms(value):
    m = re.match(r'([\d.]+)(us|ms|s)', value)
    if not m:
        return 0.0
    return float(m.group(1)) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[m.group(2)]


# ── throughput ──────────────────────────────────────────────────────────────────────────────────
def throughput():
    results = {}
    for processes in PROCESSES:
        servers = [s for s in SERVERS if command(s, 1, processes)]
        up = {}
        for s in servers:
            port = next_port()
            p = start(command(s, port, processes))
            if not wait_200(port):
                out('detail: %s (%d processes) never answered: %s' % (s, processes, log_tail(p)))
                stop(p)
                continue
            up[s] = (port, p)
        for close in (False, True):
            mode = 'close' if close else 'keep-alive'
            runs = {s: [] for s in up}
            for r in range(RUNS):
                order = list(up) if r % 2 == 0 else list(reversed(list(up)))
                for s in order:
                    c0 = cpu_ticks(up[s][1].pid)
                    res = wrk(up[s][0], close)
                    res['cpu_us'] = cpu_us_per(cpu_ticks(up[s][1].pid) - c0, res['requests'])
                    runs[s].append(res)
                    out('detail: throughput %s processes=%d %s run %d: %.0f req/s p50=%.2fms p99=%.2fms '
                        'non2xx=%d socket_errors=%d server_cpu=%.0fus/req' % (
                            s, processes, mode, r + 1, res['rps'], res['p50'], res['p99'], res['non2xx'],
                            res['errors'], res['cpu_us']))
            for s, rs in runs.items():
                med = sorted(rs, key=lambda x: x['rps'])[len(rs) // 2]
                results[(processes, mode, s)] = dict(med, all=[round(x['rps']) for x in rs],
                                                     failed=sum(x['non2xx'] for x in rs),
                                                     cpu=statistics.median(x['cpu_us'] for x in rs))
        for port, p in up.values():
            stop(p)
    out()
    out('| processes | connections | server | requests/s (median of %d) | p50 ms | p99 ms | runs (req/s) | kaiser vs it | server CPU µs/request |' % RUNS)
    out('|---|---|---|---|---|---|---|---|---|')
    for (processes, mode, s), res in sorted(results.items(), key=lambda kv: (-kv[0][0], kv[0][1] != 'keep-alive',
                                                                             SERVERS.index(kv[0][2]))):
        k = results.get((processes, mode, 'kaiser'))
        ratio = '%.2f×' % (k['rps'] / res['rps']) if k and res['rps'] and s != 'kaiser' else ''
        out('| %d | %s | %s | %.0f | %.2f | %.2f | %s | %s | %.0f |' % (
            processes, mode, s, res['rps'], res['p50'], res['p99'], ' '.join(map(str, res['all'])), ratio, res['cpu']))
    out()
    for (processes, mode, s), res in results.items():
        k = results.get((processes, mode, 'kaiser'))
        if s != 'kaiser' and k and res['rps']:
            out('figure: asgi_throughput_kaiser_over_%s_%dp_%s %.2f ratio' % (s, processes, mode.replace('-', ''),
                                                                            k['rps'] / res['rps']))
            out('figure: asgi_p99_kaiser_minus_%s_%dp_%s %.2f ms' % (s, processes, mode.replace('-', ''),
                                                                   k['p99'] - res['p99']))


# ── websocket echo ──────────────────────────────────────────────────────────────────────────────
def websocket():
    up = {}
    for s in SERVERS:
        port = next_port()
        p = start(command(s, port, 1))
        if not wait_200(port):
            out('detail: %s never answered: %s' % (s, log_tail(p)))
            stop(p)
            continue
        up[s] = (port, p)
    def echo(port, seconds):
        text = subprocess.run([NODE, os.path.join(HERE, 'lib/ws-echo.mjs'), str(port), '/ws', '64', str(seconds)],
                              capture_output=True, text=True, timeout=seconds + 60).stdout
        try:
            return json.loads(text.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {'per_second': 0, 'round_trips': 0, 'errors': -1}
    for s in up:
        echo(up[s][0], 2)            # warm-up: first connections import what each server loads lazily
    runs = {s: [] for s in up}
    for r in range(RUNS):
        for s in (list(up) if r % 2 == 0 else list(reversed(list(up)))):
            c0 = cpu_ticks(up[s][1].pid)
            res = echo(up[s][0], DURATION)
            res['cpu_us'] = cpu_us_per(cpu_ticks(up[s][1].pid) - c0, res['round_trips'])
            runs[s].append(res)
            out('detail: websocket %s run %d: %s round trips/s, errors %s, server_cpu=%.0fus/round trip' % (
                s, r + 1, res['per_second'], res['errors'], res['cpu_us']))
    for port, p in up.values():
        stop(p)
    out()
    out('| server (1 process) | websocket echo round trips/s (median of %d, 64 connections) | runs | kaiser vs it | server CPU µs/round trip |' % RUNS)
    out('|---|---|---|---|---|')
    med = {s: statistics.median(x['per_second'] for x in rs) for s, rs in runs.items() if rs}
    cpu = {s: statistics.median(x['cpu_us'] for x in rs) for s, rs in runs.items() if rs}
    for s in med:
        ratio = '%.2f×' % (med['kaiser'] / med[s]) if 'kaiser' in med and med[s] and s != 'kaiser' else ''
        out('| %s | %.0f | %s | %s | %.0f |' % (s, med[s], ' '.join(str(x['per_second']) for x in runs[s]), ratio, cpu[s]))
    out()
    for s in med:
        if s != 'kaiser' and 'kaiser' in med and med[s]:
            out('figure: asgi_ws_echo_kaiser_over_%s %.2f ratio' % (s, med['kaiser'] / med[s]))


# ── memory ──────────────────────────────────────────────────────────────────────────────────────
def pss():
    figures = {'kaiser': [], 'vassal': [], 'uvicorn': []}
    for r in range(RUNS):
        d = tempfile.mkdtemp(prefix='kaiser-asgi-bench-')
        port = next_port()
        with open(os.path.join(d, 'api.toml'), 'w') as f:
            f.write('http-socket = "127.0.0.1:%d"\nasgi = "asgi_hello:app"\nchdir = "%s"\nprocesses = 1\n' % (port, APPS))
        emp = start([NODE, os.path.join(ROOT, 'bin/kaiser.js'), '--emperor', d, '--control', os.path.join(d, 'c.sock')])
        kaiser = vassal = None
        if wait_200(port):
            for _ in range(20):
                http_status(port)
            time.sleep(1)
            pids = tree(emp.pid)[1:]
            kaiser = pss_kb(pids)
            # the vassal alone: its master's tree (the emperor's reaper, a /bin/sh serving every vassal, left out)
            masters = [p for p in pids if (stat_fields(p) or [''])[1] == str(emp.pid) and comm(p) != 'sh']
            vassal = pss_kb([p for m in masters for p in tree(m)])
        stop(emp, 30)
        shutil.rmtree(d, ignore_errors=True)
        port = next_port()
        uv = start(command('uvicorn', port, 1))
        uvicorn = None
        if wait_200(port):
            for _ in range(20):
                http_status(port)
            time.sleep(1)
            uvicorn = pss_kb(tree(uv.pid))
        stop(uv)
        out('detail: pss run %d: kaiser vassal %s kB (%s kB with the emperor\'s reaper), uvicorn %s kB' % (
            r + 1, vassal, kaiser, uvicorn))
        figures['kaiser'].append(kaiser or 0)
        figures['vassal'].append(vassal or 0)
        figures['uvicorn'].append(uvicorn or 0)
    k, v, u = (statistics.median(figures[x]) for x in ('kaiser', 'vassal', 'uvicorn'))
    out()
    out('| 1-worker FastAPI app | PSS kB (median of %d) | runs |' % RUNS)
    out('|---|---|---|')
    out('| kaiser vassal (master + worker) | %d | %s |' % (v, ' '.join(map(str, figures['vassal']))))
    out('| the same + the emperor\'s reaper | %d | %s |' % (k, ' '.join(map(str, figures['kaiser']))))
    out('| uvicorn --workers 1 | %d | %s |' % (u, ' '.join(map(str, figures['uvicorn']))))
    out()
    if u:
        out('figure: asgi_pss_vassal_over_uvicorn %.2f ratio' % (v / u))
        out('figure: asgi_pss_kaiser_over_uvicorn %.2f ratio' % (k / u))


# ── reload under load ───────────────────────────────────────────────────────────────────────────
def prober(port, seconds, result):
    end = time.time() + seconds
    last_ok = None
    result.update(ok=0, failed=0, max_gap_ms=0.0, kinds={}, gap_end=None)
    while time.time() < end:
        st, _ = http_status(port, timeout=5)
        t = time.time()
        if st == 200:
            result['ok'] += 1
            if last_ok is not None and (t - last_ok) * 1000 > result['max_gap_ms']:
                result['max_gap_ms'] = (t - last_ok) * 1000
                result['gap_end'] = t
            last_ok = t
        else:
            result['failed'] += 1
            k = str(st)
            result['kinds'][k] = result['kinds'].get(k, 0) + 1
            time.sleep(0.002)


RELOAD_VARIANTS = {
    'touch': ('vassal file touched 2 s in (chain reload; load-nice 10)', True, 'load-nice = 10\n'),
    'touch-nice0': ('same with load-nice = 0, the default (the replacements load at full priority)', True, 'load-nice = 0\n'),
    'control': ('control: no reload', False, ''),
}


def reload_run(r, variant):
    """One run: a 2-worker ASGI vassal under load; touched 2 s in unless `variant` is the control.
    -> (failed, longest gap ms) or None."""
    label, touch, extra = RELOAD_VARIANTS[variant]
    d = tempfile.mkdtemp(prefix='kaiser-asgi-bench-')
    port = next_port()
    vassal = os.path.join(d, 'api.toml')
    with open(vassal, 'w') as f:
        f.write('http-socket = "127.0.0.1:%d"\nasgi = "asgi_hello:app"\nchdir = "%s"\nprocesses = 2\n'
                'disable-logging = true\nlog-format = "json"\n%s' % (port, APPS, extra))
    emp = start([NODE, os.path.join(ROOT, 'bin/kaiser.js'), '--emperor', d, '--control', os.path.join(d, 'c.sock')])
    if not wait_200(port):
        out('detail: reload run %d: the vassal never answered: %s' % (r + 1, log_tail(emp)))
        stop(emp, 30)
        shutil.rmtree(d, ignore_errors=True)
        return None
    time.sleep(1)
    probe = {}
    w = {}
    t = threading.Thread(target=prober, args=(port, RELOAD_S, probe))
    tw = threading.Thread(target=lambda: w.update(wrk(port, False, duration=RELOAD_S, threads=1, conns=16)))
    tw.start()
    t.start()
    time.sleep(2)
    touched = time.time()
    if touch:
        later = touched + 1
        os.utime(vassal, (later, later))
    t.join()
    tw.join()
    reloaded = 'graceful reload done' in log_tail(emp, 1 << 20)
    late = False
    if touch and not reloaded:
        # a busy machine can stretch the chain reload (each new worker imports FastAPI) past the load window
        until = time.time() + 60
        while time.time() < until and not late:
            time.sleep(0.2)
            late = 'graceful reload done' in log_tail(emp, 1 << 20)
    stop(emp, 30)
    shutil.rmtree(d, ignore_errors=True)
    took = reload_seconds(log_tail(emp, 1 << 22), touched) if touch else None
    if touch and probe['gap_end'] is not None:
        out('detail: reload %s run %d: the longest gap ended %+.3f s after the touch; the master: %s' % (
            variant, r + 1, probe['gap_end'] - touched, timeline(log_tail(emp, 1 << 22), touched)))
    failed = probe['failed'] + w.get('non2xx', 0) + w.get('errors', 0)
    out('detail: reload %s run %d: prober ok=%d failed=%d %s longest gap %.1f ms; wrk %.0f req/s non2xx=%d '
        'socket_errors=%d%s%s%s' % (variant, r + 1, probe['ok'], probe['failed'],
                                  probe['kinds'] or '', probe['max_gap_ms'], w.get('rps', 0), w.get('non2xx', 0),
                                  w.get('errors', 0), ' (%s)' % w['error_kinds'] if w.get('errors') else '',
                                  '' if reloaded or not touch else
                                ' (reload done after the load window)' if late else ' (NO RELOAD SEEN)',
                                '' if took is None else '; reload took %.2f s' % took))
    return failed, probe['max_gap_ms']


TIMELINE = (('spawned uWSGI worker', 'spawn'), ('ASGI app 0', 'ready'), ('replaced by', 'replaced'),
            ('retired (reload)', 'old gone'), ('graceful reload done', 'done'))


def timeline(log_text, touched):
    """The reload's steps in the master's log (log-format = json stamps them), as seconds after the touch."""
    steps = []
    for line in log_text.splitlines():
        i = line.find('{"time"')
        if i < 0:
            continue
        try:
            entry = json.loads(line[i:])
        except ValueError:
            continue
        if entry.get('time', 0) < touched:
            continue
        for needle, name in TIMELINE:
            if needle in entry.get('msg', ''):
                steps.append('%s %+.3f' % (name, entry['time'] - touched))
    return ', '.join(steps)


def reload_seconds(log_text, touched):
    """Seconds from the touch to the master's `graceful reload done` line (log-format = json stamps it), or None."""
    for line in log_text.splitlines():
        i = line.find('{"time"')
        if i >= 0 and 'graceful reload done' in line:
            try:
                return json.loads(line[i:])['time'] - touched
            except (ValueError, KeyError):
                return None
    return None


def reload():
    variants = os.environ.get('RELOAD_VARIANTS', 'touch touch-nice0 control').split()
    rows = {v: [] for v in variants}
    for r in range(RUNS):
        for variant in variants:
            res = reload_run(r, variant)
            if res:
                rows[variant].append(res)
    out()
    out('| kaiser ASGI vassal (2 workers) under wrk -t1 -c16 + a sequential prober | failed requests (all runs) | '
        'longest gap ms (median; runs) |')
    out('|---|---|---|')
    for variant in variants:
        if rows[variant]:
            gaps = [g for _, g in rows[variant]]
            out('| %s | %d | %.1f; %s |' % (RELOAD_VARIANTS[variant][0], sum(f for f, _ in rows[variant]),
                                            statistics.median(gaps), ' '.join('%.1f' % g for g in gaps)))
    out()
    names = {'touch': 'asgi_reload', 'touch-nice0': 'asgi_reload_nice0', 'control': 'asgi_noreload'}
    for variant in variants:
        if rows[variant]:
            if RELOAD_VARIANTS[variant][1]:
                out('figure: %s_failed %d requests' % (names[variant], sum(f for f, _ in rows[variant])))
            out('figure: %s_longest_gap %.1f ms' % (names[variant], statistics.median(g for _, g in rows[variant])))


def versions():
    def v(mod):
        r = subprocess.run([PY, '-c', 'import importlib.metadata as m; print(m.version(%r))' % mod], capture_output=True,
                           text=True)
        return r.stdout.strip() or 'missing'
    have = subprocess.run([PY, '-c', 'import sys; sys.path.insert(0, "."); from uvicorn.config import Config;'
                           'cfg = Config("asgi_hello:app"); cfg.load();'
                           'print("http", cfg.http_protocol_class.__name__, "ws", cfg.ws_protocol_class.__name__, '
                           '"loop", cfg.loop)'], capture_output=True, text=True, cwd=APPS)
    loops = subprocess.run([PY, '-c', 'import importlib.util as u; print("uvloop", bool(u.find_spec("uvloop")), '
                            '"httptools", bool(u.find_spec("httptools")))'], capture_output=True, text=True).stdout.strip()
    return ('python=%s uvicorn=%s hypercorn=%s daphne=%s fastapi=%s %s; uvicorn uses: %s' % (
        sys.version.split()[0] if sys.executable == PY else subprocess.run([PY, '-V'], capture_output=True, text=True).stdout.strip(),
        v('uvicorn'), v('hypercorn'), v('daphne'), v('fastapi'), loops, have.stdout.strip() or have.stderr.strip()[-200:]))


def main():
    out('asgi bench: date=%s cpus=%d loadavg="%s" duration=%ds runs=%d processes=%s servers=%s' % (
        time.strftime('%Y-%m-%dT%H:%M:%S'), os.cpu_count(), ' '.join(open('/proc/loadavg').read().split()[:3]),
        DURATION, RUNS, PROCESSES, ' '.join(SERVERS)))
    out('asgi bench: ' + versions())
    try:
        for part in PARTS:
            out('# %s' % part)
            {'throughput': throughput, 'websocket': websocket, 'pss': pss, 'reload': reload}[part]()
    finally:
        for p in list(STARTED):
            stop(p, 5)


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    main()
