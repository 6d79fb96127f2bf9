#!/usr/bin/python3
"""bench/plugins.py [LANG ...]: the request plugins of issue 19 side by side with uWSGI's Debian plugins, in one run.

For each language (psgi, rack, php, cgi, lua; all by default) the same vassal .ini (plugin, http-socket,
http-socket-modifier1, the app option, master, processes = 2, disable-logging) runs under a uWSGI emperor and under a
kaiser emperor, both up at once. wrk -t1 -c16 -d5s loads one server at a time, alternating (uWSGI, kaiser, kaiser,
uWSGI), on the hello path and on the echo path (a POST with a small form body); each figure is the better of the two
runs. Then PSS per vassal: the sum of Pss (smaps_rollup) over the vassal's master and its descendants (workers,
php-cgi), after the load. PHP also runs behind nginx + php-fpm (pm = static, 2 children), measured the same way
(PSS: nginx's processes + php-fpm's).

BENCH_DETAIL=1 also prints one `detail:` line per process of each vassal tree (Pss, Pss_Anon, Pss_File, Rss,
Private in KiB, and the command line), to see where the memory goes.

BENCH_PROCESSES sets `processes` for both servers (default 2). BENCH_PARTS="pss" measures PSS only (after 20 requests
per vassal instead of the wrk runs; default "throughput pss"). BENCH_KAISER_INI adds lines to kaiser's vassals only (e.g. `lazy-apps = true`: one exec'd runtime per worker instead of
a zygote per generation that forks them, to compare the two in the same run set-up).

Prints one `figure:` line per language and path and writes nothing else. Run under the bench lock:
    flock /work/bench.lock python3 bench/plugins.py
The machine is shared: read ratios and repeat; the lead reruns the final figures on a quiet machine.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, 'test', 'fixtures', 'plugins')
KAISER = ['node', os.path.join(ROOT, 'bin', 'kaiser.js')]
UWSGI = '/usr/bin/uwsgi'
DURATION = os.environ.get('BENCH_DURATION', '5s')
PROCESSES = int(os.environ.get('BENCH_PROCESSES', '2'))
PARTS = os.environ.get('BENCH_PARTS', 'throughput pss').split()

# language: (plugin, modifier1, app lines (relative to the fixture dir), hello path, echo path)
LANGS = {
    'psgi': ('psgi', 5, 'psgi = {d}/psgi/app.psgi', '/', '/echo'),
    'rack': ('rack', 7, 'rack = {d}/rack/config.ru', '/', '/echo'),
    'php': ('php', 14, 'php-docroot = {d}/php/php\nphp-index = index.php', '/', '/echo.php'),
    'cgi': ('cgi', 9, 'cgi = {d}/cgi\ncgi-allowed-ext = .cgi\ncgi-index = index.cgi', '/', '/echo.cgi'),
    'lua': ('lua', 6, 'lua = {d}/lua/app.lua', '/', '/echo'),
}
started = []

sys.path.insert(0, os.path.join(ROOT, 'bench', 'lib'))
from procfs import pss_kb, rollup, stat_fields, tree  # noqa: E402 (bench/lib/procfs.py)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(argv, log, cwd=None, env=None):
    p = subprocess.Popen(argv, stdout=open(log, 'ab'), stderr=subprocess.STDOUT, cwd=cwd, env=env,
                         start_new_session=True)
    started.append(p)
    return p


def answers(port, path='/'):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
            s.sendall(('GET %s HTTP/1.0\r\nHost: x\r\n\r\n' % path).encode())
            return s.recv(64).startswith(b'HTTP/1.')
    except OSError:
        return False


def wait_answer(port, what, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if answers(port):
            return True
        time.sleep(0.1)
    print('# %s did not answer on %d within %d s' % (what, port, timeout))
    return False


def socket_owners(port):
    """Pids holding the listening socket of 127.0.0.1:`port`."""
    inode = None
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            for line in open(table).readlines()[1:]:
                f = line.split()
                if int(f[1].rsplit(':', 1)[1], 16) == port and f[3] == '0A':
                    inode = f[9]
        except OSError:
            pass
    owners = set()
    for d in os.listdir('/proc'):
        if d.isdigit() and inode:
            try:
                for fd in os.listdir('/proc/%s/fd' % d):
                    if os.readlink('/proc/%s/fd/%s' % (d, fd)) == 'socket:[%s]' % inode:
                        owners.add(int(d))
                        break
            except OSError:
                pass
    return owners


def master_of(port):
    """The vassal's master: the owner of its listening socket whose parent does not hold it (workers inherit it)."""
    owners = socket_owners(port)
    for pid in owners:
        f = stat_fields(pid)
        if f is not None and int(f[1]) not in owners:
            return pid
    return None


def process_memory(pid):
    """One process's smaps_rollup figures (KiB) and command line, for BENCH_DETAIL."""
    fields = rollup(pid)
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            cmd = f.read().replace(b'\0', b' ').decode(errors='replace').strip()[:90]
    except OSError:
        fields = {}
    if not fields:
        return 'pid %d gone' % pid
    private = fields.get('Private_Clean', 0) + fields.get('Private_Dirty', 0)
    return 'pid %d pss %d anon %d file %d rss %d private %d  %s' % (
        pid, fields.get('Pss', 0), fields.get('Pss_Anon', 0), fields.get('Pss_File', 0), fields.get('Rss', 0),
        private, cmd)


def wrk(port, path, post):
    args = ['wrk', '-t1', '-c16', '-d' + DURATION, '--latency']
    if post:
        args += ['-s', post]
    out = subprocess.run(args + ['http://127.0.0.1:%d%s' % (port, path)], capture_output=True, text=True).stdout
    rps = re.search(r'Requests/sec:\s+([\d.]+)', out)
    p99 = re.search(r'\s99%\s+([\d.]+)(us|ms|s)\b', out)
    bad = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    if not rps or bad:
        return None, None
    ms = None
    if p99:
        ms = float(p99.group(1)) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[p99.group(2)]
    return float(rps.group(1)), ms


def best(runs):
    runs = [r for r in runs if r[0] is not None]
    if not runs:
        return None, None
    return max(r[0] for r in runs), min(r[1] for r in runs if r[1] is not None)


def php_fpm(work, port):
    """nginx (1 worker) in front of php-fpm (pm = static, 2 children) serving the PHP fixture: (pids, ok)."""
    fpm = shutil.which('php-fpm8.2') or shutil.which('php-fpm') or '/usr/sbin/php-fpm8.2'
    nginx = shutil.which('nginx') or '/usr/sbin/nginx'
    if not (os.path.exists(fpm) and os.path.exists(nginx)):
        return None
    sock = os.path.join(work, 'fpm.sock')
    docroot = os.path.join(FIX, 'php', 'php')
    open(os.path.join(work, 'fpm.conf'), 'w').write(
        '[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n[www]\nlisten = %s\n'
        'listen.mode = 0666\npm = static\npm.max_children = 2\n' % (work, work, sock))
    open(os.path.join(work, 'nginx.conf'), 'w').write(
        'user root; daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/nginx.err;\n'
        'events { worker_connections 1024; }\n'
        'http { access_log off; client_body_temp_path %s; fastcgi_temp_path %s;\n'
        '  server { listen 127.0.0.1:%d; root %s; index index.php;\n'
        '    location / { try_files $uri $uri/ =404; }\n'
        '    location ~ \\.php$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;'
        ' fastcgi_pass unix:%s; } } }\n' % (work, work, work, work, port, docroot, sock))
    f = start([fpm, '-F', '-y', os.path.join(work, 'fpm.conf'), '-R'], os.path.join(work, 'fpm.out'))
    n = start([nginx, '-c', os.path.join(work, 'nginx.conf'), '-p', work], os.path.join(work, 'nginx.out'))
    return [f.pid, n.pid]


def main():
    langs = sys.argv[1:] or list(LANGS)
    work = tempfile.mkdtemp(prefix='kaiser-bench-plugins.')
    os.chmod(work, 0o755)   # nginx's worker reaches php-fpm's socket in here
    post = os.path.join(work, 'post.lua')
    open(post, 'w').write('wrk.method = "POST"\nwrk.body = "name=kaiser&n=42"\n'
                          'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                          'wrk.headers["X-Probe"] = "p-123"\n')
    udir, kdir = os.path.join(work, 'uwsgi'), os.path.join(work, 'kaiser')
    os.makedirs(udir)
    os.makedirs(kdir)
    ports = {}
    for lang in langs:
        plugin, mod1, app, _, _ = LANGS[lang]
        for side, d in (('uwsgi', udir), ('kaiser', kdir)):
            port = free_port()
            ports[(lang, side)] = port
            text = ('[uwsgi]\nplugin = %s\nhttp-socket = 127.0.0.1:%d\nhttp-socket-modifier1 = %d\n%s\nmaster = true\n'
                    'processes = %s\ndisable-logging = true\n' % (plugin, port, mod1, app.format(d=FIX), PROCESSES))
            if side == 'kaiser' and os.environ.get('BENCH_KAISER_INI'):
                text += os.environ['BENCH_KAISER_INI'].replace('\\n', '\n') + '\n'
            open(os.path.join(d, '%s.ini' % lang), 'w').write(text)
    start([UWSGI, '--emperor', udir, '--emperor-freq', '1'], os.path.join(work, 'uwsgi.log'))
    start(KAISER + ['--emperor', kdir], os.path.join(work, 'kaiser.log'))
    fpm_port = free_port() if 'php' in langs else None
    fpm = php_fpm(work, fpm_port) if fpm_port else None
    print('# bench/plugins.py %s, processes = %d, wrk -t1 -c16 -d%s, load average %s%s' % (
        ' '.join(langs), PROCESSES, DURATION, ' '.join(open('/proc/loadavg').read().split()[:3]),
        ', kaiser vassals + %r' % os.environ['BENCH_KAISER_INI'] if os.environ.get('BENCH_KAISER_INI') else ''))
    for lang in langs:
        _, _, _, hello, echo = LANGS[lang]
        up = {side: wait_answer(ports[(lang, side)], '%s %s' % (lang, side)) for side in ('uwsgi', 'kaiser')}
        sides = [s for s in ('uwsgi', 'kaiser') if up[s]]
        peers = list(sides)
        if lang == 'php' and fpm and wait_answer(fpm_port, 'nginx + php-fpm'):
            ports[(lang, 'nginx+php-fpm')] = fpm_port
            peers.append('nginx+php-fpm')
        if 'throughput' not in PARTS:
            for side in peers:
                for _ in range(20):
                    answers(ports[(lang, side)], hello)
        for name, path, body in (('hello', hello, None), ('echo', echo, post)) if 'throughput' in PARTS else ():
            runs = {s: [] for s in peers}
            order = [s for s in peers if s != 'kaiser'] + ['kaiser', 'kaiser'] + [s for s in peers if s != 'kaiser']
            for side in order:
                if side in runs:
                    runs[side].append(wrk(ports[(lang, side)], path, body))
            res = {s: best(r) for s, r in runs.items()}
            parts = []
            for s in peers:
                rps, p99 = res[s]
                parts.append('%s=%s rps p99 %s ms' % (s, '%.0f' % rps if rps else 'FAILED', '%.1f' % p99 if p99 else '-'))
            ratio = ''
            if res.get('kaiser', (None,))[0] and res.get('uwsgi', (None,))[0]:
                ratio = ' ratio=%.2f' % (res['kaiser'][0] / res['uwsgi'][0])
            print('figure: plugins %s %s %s%s' % (lang, name, ', '.join(parts), ratio))
        pss = {}
        for side in sides:
            m = master_of(ports[(lang, side)])
            pss[side] = pss_kb(tree(m)) if m else None
            if m and os.environ.get('BENCH_DETAIL'):
                for pid in tree(m):
                    print('detail: %s %s %s' % (lang, side, process_memory(pid)))
        if lang == 'php' and fpm:
            pss['nginx+php-fpm'] = sum(pss_kb(tree(p)) for p in fpm)
        parts = ['%s=%.1f MiB' % (s, v / 1024.0) for s, v in pss.items() if v]
        ratio = ' ratio=%.2f' % (pss['kaiser'] / pss['uwsgi']) if pss.get('kaiser') and pss.get('uwsgi') else ''
        print('figure: plugins %s pss_per_vassal %s%s' % (lang, ', '.join(parts), ratio))


if __name__ == '__main__':
    try:
        main()
    finally:
        for p in started:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except OSError:
                pass
        for p in started:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
