#!/usr/bin/python3
"""bench/per-connection.py: one connection per request, kaiser against uWSGI side by side in one run (issue 15, "As fast
where they run it").

Most uWSGI deployments sit behind nginx `uwsgi_pass`, which opens a new connection to the app server for every request.
Both servers run the same ini (uWSGI: Debian's uwsgi-core + uwsgi-plugin-python3; kaiser: `node bin/kaiser.js`):
`socket` (uwsgi protocol) and `http-socket` on loopback ports, `module` = the app, `master`, `processes` = 2,
`threads` = 2, `disable-logging`. Both are up at once; the load goes to one at a time.

  nginx    nginx-light, 1 worker, keep-alive to wrk, `uwsgi_pass` to the server's `socket` (one upstream connection per
           request, as nginx does by default): `wrk -t2 -c64` on nginx.
  close    `wrk -t2 -c64` with `Connection: close` on every request (bench/lib/wrk-close.lua) straight on the server's
           `http-socket`.

Apps: Flask (bench/apps/flask_hello.py) and Django (bench/apps/django_hello/), both from Debian (python3-flask,
python3-django), a small JSON answer each; APPS=plain adds a no-framework app (bench/apps/plain_hello.py), whose runs
measure the servers' own path per connection. For every app and path the two servers are measured RUNS times, alternating
(uWSGI, kaiser, kaiser, uWSGI, ...); reported: the median requests/s and the median p99 of each side, the ratio of the
medians, and each side's CPU time per request (utime + stime of the server's process tree, nginx excluded, with its
user/system split), which a busy machine disturbs less than requests/s, and the voluntary context switches per request
of the tree's threads (a thread that blocks on the GIL, a futex or an empty epoll counts one: how often the threads of
a worker hand over to each other). A run with errors (non-2xx, socket errors other than wrk's close-path
reads) is reported and counted out.

Prints `detail:` lines per run, a markdown table and one `figure:` line per app and path; the whole output also goes to
bench/results/per-connection.DATE.txt. Run it under the bench lock on a shared machine:
    flock /work/bench.lock python3 bench/per-connection.py
Env: DURATION (seconds per run, 8), RUNS (3), APPS ("flask django"; also "plain"), PATHS ("nginx close"), PROCESSES (2), THREADS (2),
CONNECTIONS (64), KAISER_ROOT (this checkout), PORT_BASE (24700), KAISER_REF (another built checkout, e.g. main before a
change: measured in the same run as a third side, `kaiser-ref`, alternating with the other two).
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('KAISER_ROOT') or os.path.dirname(HERE)
APPS_DIR = os.path.join(HERE, 'apps')
NODE = os.environ.get('NODE') or 'node'
UWSGI = '/usr/bin/uwsgi'
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
DURATION = int(os.environ.get('DURATION', '8'))
RUNS = int(os.environ.get('RUNS', '3'))
APPS = os.environ.get('APPS', 'flask django').split()
PATHS = os.environ.get('PATHS', 'nginx close').split()
PROCESSES = int(os.environ.get('PROCESSES', '2'))
THREADS = int(os.environ.get('THREADS', '2'))
CONNECTIONS = int(os.environ.get('CONNECTIONS', '64'))
PORT = [int(os.environ.get('PORT_BASE', '24700'))]
REF_ROOT = os.environ.get('KAISER_REF')
SIDES = ('uwsgi', 'kaiser') + (('kaiser-ref',) if REF_ROOT else ())
MODULES = {'flask': 'flask_hello:app', 'django': 'django_hello.wsgi:application', 'plain': 'plain_hello:application'}
HZ = os.sysconf('SC_CLK_TCK')

sys.path.insert(0, os.path.join(HERE, 'lib'))
import procs  # noqa: E402 (bench/lib/procs.py)
from procfs import tree  # noqa: E402 (bench/lib/procfs.py)
from procs import STARTED  # noqa: E402
OUT = []


def out(line=''):
    print(line, flush=True)
    OUT.append(line)


def next_port():
    while True:
        PORT[0] += 1
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', PORT[0]))
                return PORT[0]
            except OSError:
                continue


def start(argv, log, cwd=None):
    return procs.start(argv, cwd=cwd, log=log)


def stop(p, grace=10):
    procs.stop(p, grace, sig=signal.SIGINT)     # uWSGI's SIGTERM is a reload; SIGINT ends uWSGI, nginx and kaiser


def get(port, path='/'):
    """Status of GET `path` on `port` (one connection, `Connection: close`), or None."""
    return procs.http_get(port, path, timeout=2)[0]


def wait_200(port, what, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if get(port) == 200:
            return True
        time.sleep(0.1)
    out('# %s did not answer 200 on port %d within %d s' % (what, port, timeout))
    return False


def cpu_ticks(root):
    """(utime, stime) clock ticks of `root` and its descendants."""
    user = system = 0
    for pid in tree(root):
        try:
            data = open('/proc/%d/stat' % pid).read()
            f = data[data.rindex(')') + 2:].split()
            user += int(f[11])
            system += int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return user, system


def switches(root):
    """Voluntary context switches of every thread of `root` and its descendants: a thread that blocks (a wait for
    the GIL, a futex, an empty epoll) counts one."""
    total = 0
    for pid in tree(root):
        try:
            for task in os.listdir('/proc/%d/task' % pid):
                with open('/proc/%d/task/%s/status' % (pid, task)) as f:
                    for line in f:
                        if line.startswith('voluntary_ctxt_switches'):
                            total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def ms(text):
    m = re.match(r'([\d.]+)(us|ms|s)$', text)
    return float(m.group(1)) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[m.group(2)] if m else 0.0


def wrk(port, close):
    argv = ['wrk', '-t2', '-c%d' % CONNECTIONS, '-d%ds' % DURATION, '--latency']
    if close:
        argv += ['-s', os.path.join(HERE, 'lib', 'wrk-close.lua')]
    text = subprocess.run(argv + ['http://127.0.0.1:%d/' % port], capture_output=True, text=True,
                          timeout=DURATION + 30).stdout

    def grab(pattern, default='0'):
        m = re.search(pattern, text)
        return m.group(1) if m else default
    errors = grab(r'Socket errors:([^\n]*)', '')
    counted = sum(int(n) for kind, n in re.findall(r'(connect|read|write|timeout) (\d+)', errors)
                  if not (close and kind == 'read'))   # wrk counts a server's close after the response as a read error
    return {'rps': float(grab(r'Requests/sec:\s+([\d.]+)')), 'p50': ms(grab(r'\n\s+50%\s+(\S+)', '0us')),
            'p99': ms(grab(r'\n\s+99%\s+(\S+)', '0us')), 'requests': int(grab(r'(\d+) requests in')),
            'bad': int(grab(r'Non-2xx or 3xx responses:\s+(\d+)')) + counted}


def ini(app, uwsgi_port, http_port):
    return ('[uwsgi]\nsocket = 127.0.0.1:%d\nhttp-socket = 127.0.0.1:%d\nchdir = %s\nmodule = %s\nmaster = true\n'
            'processes = %d\nthreads = %d\ndisable-logging = true\n' % (
                uwsgi_port, http_port, APPS_DIR, MODULES[app], PROCESSES, THREADS))


def nginx_conf(work, routes):
    """nginx (1 worker) with one `listen` per (port, upstream) in `routes`: uwsgi_pass, nginx's default upstream
    handling (a new connection per request)."""
    servers = ''.join(
        '  server { listen 127.0.0.1:%d; location / { include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:%d; } }\n'
        % (listen, upstream) for listen, upstream in routes)
    temp = ' '.join('%s_temp_path %s;' % (k, work) for k in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    path = os.path.join(work, 'nginx.conf')
    with open(path, 'w') as f:
        f.write('daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/nginx.err;\n'
                'events { worker_connections 4096; }\nhttp { access_log off; %s\n%s}\n' % (work, work, temp, servers))
    return path


def median(values):
    return statistics.median(values) if values else 0.0


def measure(app, work):
    """Both servers with `app`: every path of PATHS, RUNS alternating runs each -> rows for the table."""
    ports = {side: {'uwsgi': next_port(), 'http': next_port(), 'nginx': next_port()} for side in SIDES}
    procs = {}
    for side in SIDES:
        conf = os.path.join(work, '%s-%s.ini' % (app, side))
        with open(conf, 'w') as f:
            f.write(ini(app, ports[side]['uwsgi'], ports[side]['http']))
        argv = [UWSGI, '--plugin', 'python3', '--ini', conf] if side == 'uwsgi' else [
            NODE, os.path.join(REF_ROOT if side == 'kaiser-ref' else ROOT, 'bin', 'kaiser.js'), '--ini', conf]
        procs[side] = start(argv, os.path.join(work, '%s-%s.log' % (app, side)), cwd=APPS_DIR)
    nginx = None
    if 'nginx' in PATHS:
        conf = nginx_conf(work, [(ports[s]['nginx'], ports[s]['uwsgi']) for s in SIDES])
        nginx = start([NGINX, '-c', conf, '-p', work], os.path.join(work, 'nginx.out'))
    rows = []
    try:
        up = all(wait_200(ports[s]['http'], '%s %s' % (app, s)) for s in SIDES)
        if nginx:
            up = up and all(wait_200(ports[s]['nginx'], 'nginx -> %s %s' % (app, s)) for s in SIDES)
        if not up:
            for side in SIDES:
                with open(os.path.join(work, '%s-%s.log' % (app, side)), errors='replace') as f:
                    out('# %s log tail: %s' % (side, f.read()[-600:].replace('\n', ' | ')))
            return rows
        for path in PATHS:
            port_key = 'nginx' if path == 'nginx' else 'http'
            runs = {s: [] for s in SIDES}
            for i in range(RUNS):
                for side in (SIDES if i % 2 == 0 else SIDES[::-1]):   # u k r, r k u, u k r …
                    for _ in range(50):      # warm: every worker has served a few
                        get(ports[side][port_key])
                    t0, v0 = cpu_ticks(procs[side].pid), switches(procs[side].pid)
                    r = wrk(ports[side][port_key], close=(path == 'close'))
                    t1, v1 = cpu_ticks(procs[side].pid), switches(procs[side].pid)
                    n = r['requests'] or 1
                    r['user_us'] = (t1[0] - t0[0]) * 1e6 / HZ / n
                    r['sys_us'] = (t1[1] - t0[1]) * 1e6 / HZ / n
                    r['cpu_us'] = r['user_us'] + r['sys_us'] if r['requests'] else 0
                    r['switches'] = (v1 - v0) / n
                    out('detail: %s %s %s run %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d requests, %d bad, '
                        '%.0f us CPU/request (user %.0f, sys %.0f), %.2f voluntary context switches/request, '
                        'load %s' % (app, path, side, i + 1, r['rps'], r['p50'], r['p99'], r['requests'], r['bad'],
                                     r['cpu_us'], r['user_us'], r['sys_us'], r['switches'], loadavg()))
                    if not r['bad'] and r['requests']:
                        runs[side].append(r)
            med = {s: {k: median([r[k] for r in runs[s]]) for k in ('rps', 'p99', 'cpu_us', 'user_us', 'sys_us', 'switches')}
                   for s in SIDES}
            ratio = {s: med[s]['rps'] / med['uwsgi']['rps'] if med['uwsgi']['rps'] else float('nan') for s in SIDES}
            rows.append((app, path, med, ratio))
            for s in SIDES[1:]:
                out('figure: per-connection %s %s uwsgi=%.0f %s=%.0f ratio=%.3f p99_ms uwsgi=%.2f %s=%.2f '
                    'cpu_us_per_request uwsgi=%.0f %s=%.0f' % (
                        app, path, med['uwsgi']['rps'], s, med[s]['rps'], ratio[s], med['uwsgi']['p99'], s,
                        med[s]['p99'], med['uwsgi']['cpu_us'], s, med[s]['cpu_us']))
    finally:
        for p in [nginx] + [procs[s] for s in SIDES]:
            if p is not None:
                stop(p)
    return rows


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def main():
    for need in (UWSGI, NGINX, shutil.which('wrk') or '/usr/bin/wrk'):
        if not os.path.exists(need):
            sys.exit('bench/per-connection.py: %s is missing (apt-get install -y uwsgi-core uwsgi-plugin-python3 '
                     'nginx-light wrk python3-flask python3-django)' % need)
    work = tempfile.mkdtemp(prefix='kaiser-bench-perconn.')
    os.chmod(work, 0o755)
    version = subprocess.run([UWSGI, '--version'], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(['git', '-C', ROOT, 'log', '-1', '--format=%h %s'], capture_output=True,
                            text=True).stdout.strip()[:100]
    out('# bench/per-connection.py %s, %d processes x %d threads, wrk -t2 -c%d -d%ds, %d alternating runs per side, '
        'uWSGI %s, kaiser %s (%s)%s, %d CPUs, load average %s' % (
            time.strftime('%Y-%m-%d %H:%M:%S'), PROCESSES, THREADS, CONNECTIONS, DURATION, RUNS, version, ROOT,
            commit, ', kaiser-ref %s' % REF_ROOT if REF_ROOT else '', os.cpu_count(), loadavg()))
    rows = []
    try:
        for app in APPS:
            rows += measure(app, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out()
    out('| app | path | side | req/s (median) | / uWSGI | p99 (median) | CPU µs per request (user + sys) | '
        'voluntary context switches per request |')
    out('|---|---|---|---:|---:|---:|---:|---:|')
    for app, path, med, ratio in rows:
        label = 'nginx `uwsgi_pass`' if path == 'nginx' else '`http-socket`, `Connection: close`'
        for s in SIDES:
            out('| %s | %s | %s | %.0f | %.2f | %.1f ms | %.0f (%.0f + %.0f) | %.2f |' % (
                app, label, s, med[s]['rps'], ratio[s], med[s]['p99'], med[s]['cpu_us'], med[s]['user_us'],
                med[s]['sys_us'], med[s]['switches']))
    out()
    out('# load average at the end: %s' % loadavg())
    results = os.path.join(HERE, 'results')
    os.makedirs(results, exist_ok=True)
    name = os.path.join(results, 'per-connection.%s.txt' % time.strftime('%Y%m%d-%H%M%S'))
    with open(name, 'w') as f:
        f.write('\n'.join(OUT) + '\n')
    print('# raw output: %s' % os.path.relpath(name, os.path.dirname(HERE)))


if __name__ == '__main__':
    try:
        main()
    finally:
        for p in list(STARTED):
            stop(p)
