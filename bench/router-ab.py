#!/usr/bin/env python3
"""router-ab.py: two kaiser routers (two checkouts) and nginx side by side in front of ONE vassal, runs alternated.

    bench/router-ab.py BASE_ROOT HEAD_ROOT [ROUNDS=3] [DURATION=5s] [PROCESSES=1] [tls]

Starts one hello vassal (a kaiser app server running bench/uwsgi-bench/hitme.py, 1 process, from HEAD_ROOT), an
emperor from BASE_ROOT and one from HEAD_ROOT (--emperor-http, or --emperor-https with an EC P-256 certificate for
`localhost` when `tls` is given, --emperor-http-processes PROCESSES) and nginx with as many workers (`keepalive 32`,
the same proxy headers and TLS suites as bench/router.sh), all at once; then ROUNDS times, in turn, `wrk -t2 -c64
-dDURATION --latency` through each. Prints per run and as medians each proxy's CPU time per request (utime+stime of
its whole process tree over the run, divided by the requests wrk counted; its user-space part alone in brackets,
which a change to the router's JavaScript moves and the kernel's loopback work around it does not): on a busy 2-core machine req/s follow
whatever else runs, this cost much less, and the three alternate so that load falls on all of them alike. Quicker
than bench/ab.py around router.sh (the vassal and the proxies start once) for "did this change cut the router's CPU".
The order of the targets turns by one each round (base, head, nginx; then head, nginx, base; ...), so that none is
always measured first or right after another, and the last lines give head − base round by round (the pair was
measured under nearly the same load) with the rounds in which head was cheaper: a change is only better when that
holds in most rounds, not when one median is lower.
Raw wrk outputs go to bench/results/router-ab.<timestamp>.txt (RAW=FILE to choose). NGINX=0 leaves nginx out;
RFLAGS passes node flags to the router processes (e.g. --perf-basic-prof for `perf record -p`), HEAD_RFLAGS to
head's only, after RFLAGS (to compare node flags with BASE and HEAD the same checkout).
Loopback only; kills only the process groups it started."""
import os, re, signal, socket, statistics, subprocess, sys, time
base, head = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
dur = sys.argv[4] if len(sys.argv) > 4 else '5s'
procs = sys.argv[5] if len(sys.argv) > 5 else '1'
tls = len(sys.argv) > 6 and sys.argv[6] == 'tls'
import tempfile
W = tempfile.mkdtemp(prefix='kaiser-router-ab.')
for d in ('vassals', 'ng', 'sni'): os.makedirs(f'{W}/{d}')
def fp():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p
pids = []
def start(name, cmd, env=None):
    p = subprocess.Popen(cmd, stdout=open(f'{W}/{name}.log', 'w'), stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})})
    pids.append(p.pid); return p.pid
def cleanup():
    for p in pids:
        try: os.killpg(p, signal.SIGTERM)
        except OSError: pass
    time.sleep(1)
    for p in pids:
        try: os.killpg(p, signal.SIGKILL)
        except OSError: pass
    subprocess.run(['rm', '-rf', W])
import atexit; atexit.register(cleanup)
def curl(port, scheme='http'):
    return subprocess.run(['curl', '-sk', '-m', '2', '-H', 'Host: app1.example.test', '--resolve', f'localhost:{port}:127.0.0.1', f'{scheme}://localhost:{port}/'], capture_output=True, text=True).stdout
BP = fp()
start('app', ['node', f'{head}/bin/kaiser.js', '--http-socket', f'127.0.0.1:{BP}', '--wsgi-file', f'{head}/bench/uwsgi-bench/hitme.py', '--processes', '1'])
open(f'{W}/vassals/app1.toml', 'w').write(f'exec = ["sleep", "100000"]\nready = "tcp://127.0.0.1:{BP}"\ndomain = "app1.example.test"\n')
scheme = 'https' if tls else 'http'
if tls:
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f'{W}/sni/localhost.key', '-out', f'{W}/sni/localhost.crt', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], capture_output=True, check=True)
targets = {}
for label, root in (('base', base), ('head', head)):
    port = fp(); d = f'{W}/{label}'; os.makedirs(d)
    args = ['node', f'{root}/bin/kaiser.js', '--emperor', f'{W}/vassals', '--emperor-http-processes', procs, '--control', f'{d}/ctl.sock']
    args += (['--emperor-https', f'127.0.0.1:{port}', '--sni-dir', f'{W}/sni', '--emperor-http', f'127.0.0.1:{fp()}'] if tls else ['--emperor-http', f'127.0.0.1:{port}'])
    flags = os.environ.get('RFLAGS', '') + (' ' + os.environ.get('HEAD_RFLAGS', '') if label == 'head' else '')
    pid = start(label, args, {'KAISER_ROUTER_NODE_FLAGS': flags.strip()})
    targets[label] = (pid, port)
    open(f'{W}/{label}.pid', 'w').write(str(pid))
NP = fp()
ngtls = f'listen 127.0.0.1:{NP} ssl; ssl_certificate {W}/sni/localhost.crt; ssl_certificate_key {W}/sni/localhost.key; ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305; ssl_prefer_server_ciphers off; ssl_protocols TLSv1.2 TLSv1.3;' if tls else f'listen 127.0.0.1:{NP};'
open(f'{W}/ng/nginx.conf', 'w').write(f'''worker_processes {procs}; pid {W}/ng/nginx.pid; error_log {W}/ng/error.log warn; events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {W}/ng/body; proxy_temp_path {W}/ng/proxy; fastcgi_temp_path {W}/ng/f; uwsgi_temp_path {W}/ng/u; scgi_temp_path {W}/ng/s;
 keepalive_requests 100000; upstream app1 {{ server 127.0.0.1:{BP}; keepalive 32; }}
 server {{ {ngtls} server_name app1.example.test;
  location / {{ proxy_pass http://app1; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;
   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $host; }} }} }}
''')
if os.environ.get('NGINX', '1') == '1':
    targets['nginx'] = (start('nginx', ['nginx', '-p', f'{W}/ng', '-c', f'{W}/ng/nginx.conf', '-g', 'daemon off;']), NP)
for label, (pid, port) in targets.items():
    for _ in range(150):
        if curl(port, scheme) == 'Hello World': break
        time.sleep(0.2)
    else:
        sys.exit(f'{label} does not answer: ' + open(f'{W}/{label}.log').read()[-2000:])
hz = os.sysconf('SC_CLK_TCK')
def tree(pid):
    out = [pid]
    for c in subprocess.run(['ps', '-o', 'pid=', '--ppid', str(pid)], capture_output=True, text=True).stdout.split():
        out += tree(int(c))
    return out
def ticks(pid):
    u = k = 0
    for p in tree(pid):
        try:
            s = open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split(); u += int(s[11]); k += int(s[12])
        except OSError: pass
    return u, k
def wrk(port, d):
    return subprocess.run(['wrk', '-t2', '-c64', f'-d{d}', '--latency', '-H', 'Host: app1.example.test', f'{scheme}://{"localhost" if tls else "127.0.0.1"}:{port}/'], capture_output=True, text=True).stdout
res = {k: [] for k in targets}
for label, (pid, port) in targets.items(): wrk(port, '2s')
here = os.path.dirname(os.path.abspath(__file__))
raw_path = os.environ.get('RAW') or os.path.join(here, 'results', 'router-ab.%s.txt' % time.strftime('%Y%m%d-%H%M%S'))
raw = open(raw_path, 'a')
raw.write(f'# router-ab.py base={base} head={head} rounds={rounds} duration={dur} processes={procs} tls={tls} nproc={os.cpu_count()} load={open("/proc/loadavg").read().strip()}\n')
order = list(targets)
for r in range(rounds):
    for label in order[r % len(order):] + order[:r % len(order)]:
        pid, port = targets[label]
        t0 = ticks(pid); out = wrk(port, dur); t1 = ticks(pid)
        n = int(re.search(r'(\d+) requests in', out).group(1)); rps = float(re.search(r'Requests/sec:\s+(\S+)', out).group(1))
        p99 = re.search(r'\s99%\s+(\S+)', out).group(1)
        usr = (t1[0] - t0[0]) * 1e6 / hz / n; cpu = usr + (t1[1] - t0[1]) * 1e6 / hz / n
        res[label].append((cpu, rps, usr))
        line = f'round {r+1} {label:6s} cpu_us/req={cpu:5.1f} (user {usr:4.1f}) rps={rps:8.0f} p99={p99} load={open("/proc/loadavg").read().split()[0]}' + (' ERRORS' if 'Non-2xx' in out or 'Socket errors' in out else '')
        print(line, flush=True); raw.write(line + '\n'); raw.write(out + '\n')
for label, v in res.items():
    line = f'{label:6s} median cpu_us/req={statistics.median(c for c, _, _ in v):5.1f} (user {statistics.median(u for _, _, u in v):4.1f}) rps={statistics.median(r for _, r, _ in v):8.0f}'
    print(line); raw.write(line + '\n')
if res.get('base') and res.get('head'):
    diff = [h[0] - b[0] for b, h in zip(res['base'], res['head'])]
    diff_user = [h[2] - b[2] for b, h in zip(res['base'], res['head'])]
    line = (f'head-base cpu_us/req by round: {" ".join(f"{d:+.1f}" for d in diff)}; median {statistics.median(diff):+.1f} '
            f'(user {statistics.median(diff_user):+.1f}); head cheaper in {sum(d < 0 for d in diff)}/{len(diff)} rounds')
    print(line); raw.write(line + '\n')
print(f'raw: {raw_path}')
