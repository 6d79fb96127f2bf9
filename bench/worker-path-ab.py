#!/usr/bin/python3
"""bench/worker-path-ab.py: the Python worker's own cost per connection, two kaiser trees side by side in one process
(issue 15, "As fast where they run it": find where the per-connection time goes).

A real request core (core.py) of each tree, over a real TCP listener on 127.0.0.1, with the app of APP
(bench/apps: plain, flask or django); the requests alternate between the two trees (A B B A ...), one connection
each, as nginx `uwsgi_pass` (PROTO=uwsgi: the packet nginx's uwsgi_params give) or a client with `Connection: close`
(PROTO=http) sends them. Timed: the thread CPU time of `Core.accept` (accept, read, parse, environ, app, response,
scoreboard, close; the kernel's share included), not the client's. On a shared machine the pairs keep the load the
same for both sides; reported: each side's 25th percentile and median, and the median of the paired differences.

    python3 bench/worker-path-ab.py                       # this checkout against KAISER_REF
Env: KAISER_REF (another checkout, e.g. a `git worktree` of main before a change; required), APP (plain), PROTO
(http; or uwsgi), N (4000 pairs), WARMUP (300 pairs). The output also goes to bench/results/worker-path-ab.DATE.txt.
Run it under the bench lock on a shared machine: flock /work/bench.lock python3 bench/worker-path-ab.py
"""
import importlib
import json
import os
import socket
import statistics
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
APP = os.environ.get('APP', 'plain')
PROTO = os.environ.get('PROTO', 'http')
N = int(os.environ.get('N', '4000'))
WARMUP = int(os.environ.get('WARMUP', '300'))
REF = os.environ.get('KAISER_REF')
NGINX_VARS = {'QUERY_STRING': '', 'REQUEST_METHOD': 'GET', 'CONTENT_TYPE': '', 'CONTENT_LENGTH': '',
              'REQUEST_URI': '/', 'PATH_INFO': '/', 'DOCUMENT_ROOT': '/usr/share/nginx/html',
              'SERVER_PROTOCOL': 'HTTP/1.1', 'REQUEST_SCHEME': 'http', 'REMOTE_ADDR': '127.0.0.1',
              'REMOTE_PORT': '50000', 'SERVER_PORT': '8080', 'SERVER_NAME': 'localhost', 'HTTP_HOST': 'localhost',
              'HTTP_USER_AGENT': 'wrk', 'HTTP_CONNECTION': 'keep-alive'}


def the_app():
    sys.path.insert(0, os.path.join(HERE, 'apps'))
    if APP == 'plain':
        from plain_hello import application
        return application
    if APP == 'flask':
        from flask_hello import app
        return app
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'django_hello.settings')
    from django_hello.wsgi import application
    return application


class Worker:
    """What a Core needs of its worker (as test/server/python/support.py's FakeWorker)."""

    def __init__(self, cfg, listener, scoreboard, app):
        self.cfg = cfg
        self.listeners = [listener]
        self.mm = scoreboard.mm
        self.stopping = [False]
        self.max_requests = 0
        self.app = app
        self.tag = 'worker 1'
        self.wid = 1
        self.wake_r, self.wake_w = os.pipe()
        self.life_r, self.life_w = os.pipe()

    def first_request(self):
        pass


def side(tag, tree, app):
    """A Core of the server modules under `tree` (their own package, so two trees live in one process), its
    listener, port and the request bytes."""
    pkg = types.ModuleType(tag)
    pkg.__path__ = [os.path.join(tree, 'src', 'server', 'python')]
    sys.modules[tag] = pkg
    mod = lambda name: importlib.import_module(tag + '.' + name)  # noqa: E731
    mod('log').log = lambda *a, **k: None
    cfg = mod('config').parse(json.dumps({'http-socket': ['127.0.0.1:0'], 'wsgi-file': 'app.py',
                                          'disable-logging': True, 'threads': 2, 'processes': 2}))
    listener = mod('sockets').bind(PROTO, '127.0.0.1:0', cfg, 0)
    board = mod('scoreboard').Scoreboard(2, 2)
    w = Worker(cfg, listener, board, app)
    w.slot = mod('scoreboard').SlotWriter(board.mm, board.offset(0))
    mod('uwsgi_module').install(cfg, w)
    mod('wsgi').configure(cfg)
    core = mod('core').Core(w, 0)
    port = listener.sock.getsockname()[1]
    if PROTO == 'uwsgi':
        req = mod('uwsgi_proto').build(NGINX_VARS)
    else:
        req = b'GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: wrk\r\nConnection: close\r\n\r\n' % port
    return core, listener, port, req


def one(s):
    core, listener, port, req = s
    client = socket.create_connection(('127.0.0.1', port))
    client.sendall(req)
    t = time.thread_time_ns()
    served = core.accept(listener, read_now=True)
    t = time.thread_time_ns() - t
    got = []
    while True:
        d = client.recv(65536)
        if not d:
            break
        got.append(d)
    client.close()
    answer = b''.join(got)
    if not served or b' 200 ' not in answer[:20]:
        sys.exit('no 200 answer: %r' % answer[:300])
    return t


def main():
    if not REF:
        sys.exit('KAISER_REF: the checkout to compare with')
    app = the_app()
    sides = {'ref': side('_kaiser_ref', REF, app), 'this': side('_kaiser_this', ROOT, app)}
    for _ in range(WARMUP):
        one(sides['ref'])
        one(sides['this'])
    times = {'ref': [], 'this': []}
    diffs = []
    for i in range(N):
        order = ('ref', 'this') if i % 2 else ('this', 'ref')
        got = {tag: one(sides[tag]) for tag in order}
        for tag in got:
            times[tag].append(got[tag] / 1000)
        diffs.append((got['this'] - got['ref']) / 1000)

    def q(values, p):
        return sorted(values)[int(len(values) * p)]
    line = ('figure: worker-path %s %s µs per connection (thread CPU of Core.accept): ref p25 %.1f median %.1f | '
            'this p25 %.1f median %.1f | median paired difference %+.2f (%d pairs; ref %s)' % (
                APP, PROTO, q(times['ref'], .25), q(times['ref'], .5), q(times['this'], .25),
                q(times['this'], .5), statistics.median(diffs), N, REF))
    print(line)
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    stamp = time.strftime('%Y%m%d-%H%M%S', time.gmtime())    # Django's settings may change the local zone
    with open(os.path.join(HERE, 'results', 'worker-path-ab.%s.txt' % stamp), 'w') as f:
        f.write('# python3 bench/worker-path-ab.py  APP=%s PROTO=%s N=%d load %s\n%s\n' % (
            APP, PROTO, N, ' '.join(open('/proc/loadavg').read().split()[:3]), line))


if __name__ == '__main__':
    main()
