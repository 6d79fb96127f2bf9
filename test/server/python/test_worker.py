"""worker: the worker's side of the status pipe, and retiring (stop accepting, take what is queued, wake the cores)."""
import json
import os
import select
import socket
import subprocess
import sys
import unittest

import support
from _kaiser import sockets
from _kaiser.scoreboard import Scoreboard
from _kaiser.worker import Worker, max_requests_of


class WorkerSide(unittest.TestCase):
    def setUp(self):
        self.status_r, status_w = os.pipe()
        os.set_blocking(self.status_r, False)
        self.addCleanup(os.close, self.status_r)
        self.addCleanup(os.close, status_w)
        life_r, life_w = os.pipe()
        self.addCleanup(os.close, life_r)
        self.addCleanup(os.close, life_w)
        self.sb = Scoreboard(2, 1)
        self.addCleanup(self.sb.close)
        cfg = support.make_config()
        with support.mock.patch.object(support._log, 'log', lambda m: None):
            self.listeners, _ = sockets.bind_all(support._config.socket_specs(cfg), cfg)
        for l in self.listeners:
            self.addCleanup(l.close)
        self.w = Worker(1, cfg, self.listeners, status_w, life_r, self.sb.mm, self.sb.offset(0))
        self.addCleanup(os.close, self.w.wake_r)
        self.addCleanup(os.close, self.w.wake_w)

    def messages(self):
        try:
            data = os.read(self.status_r, 65536)
        except BlockingIOError:
            return []
        return [json.loads(line) for line in data.decode().splitlines()]

    def test_first_request_is_reported_once(self):
        self.w.first_request()
        self.w.first_request()
        self.assertEqual(self.messages(), [{'act': 'first-request'}])

    def test_retiring_at_max_requests_tells_the_master_and_stops_accepting(self):
        self.w.slot.set_accepting(True)
        self.w.retire('max-requests')
        self.assertEqual(self.messages(), [{'act': 'retiring', 'reason': 'max-requests'}])
        self.assertTrue(self.w.stopping[0])
        self.assertEqual(self.sb.worker(0)[5], 0)
        self.assertTrue(select.select([self.w.wake_r], [], [], 0)[0])
        self.w.retire('max-requests')
        self.assertEqual(self.messages(), [])

    def test_a_retire_asked_by_signal_sends_nothing(self):
        self.w.retire('signal')
        self.assertEqual(self.messages(), [])

    def test_a_retiring_worker_takes_the_connections_already_queued(self):
        from _kaiser.core import Core
        core = Core(self.w, 0)
        self.addCleanup(core.ep.close)
        self.w.cores = [core]
        port = int(self.listeners[0].server_port)
        client = socket.create_connection(('127.0.0.1', port))
        self.addCleanup(client.close)
        self.w.retire('signal')
        self.assertEqual(len(core.conns), 1)
        for c in list(core.conns.values()):
            core.close(c)


class MaxRequestsDelta(unittest.TestCase):
    def test_each_worker_id_adds_id_minus_one_times_the_delta(self):
        cfg = support.make_config(max_requests=100, max_requests_delta=10)
        self.assertEqual([max_requests_of(cfg, wid) for wid in (1, 2, 3)], [100, 110, 120])
        self.assertEqual(max_requests_of(support.make_config(max_requests_delta=10), 3), 0)
        self.assertEqual(max_requests_of(support.make_config(max_requests=100), 3), 100)


if __name__ == '__main__':
    unittest.main()


# A worker of an ASGI vassal with a `route` set, run in a fresh interpreter up to where it hands over to the event
# loop (asgi.server.serve, replaced here): what it imported by then, and what it logged.
ASGI_START = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import _kaiser_bootstrap
from _kaiser import config, log, sockets
from _kaiser.asgi import server
from _kaiser.scoreboard import Scoreboard
from _kaiser.worker import Worker
logged = []
log.log = logged.append
def serve(worker, app, t0):
    print(json.dumps({'modules': sorted(sys.modules), 'logged': logged}))
    sys.stdout.flush()
    os._exit(0)
server.serve = serve
cfg = config.parse(json.dumps({'http-socket': ['127.0.0.1:0'], 'asgi': 'tiny_asgi:app', 'chdir': sys.argv[2],
                               'route': ['^/x break:404']}))
listeners, _ = sockets.bind_all(config.socket_specs(cfg), cfg)
sb = Scoreboard(1, 1)
status_r, status_w = os.pipe()
life_r, life_w = os.pipe()
Worker(1, cfg, listeners, status_w, life_r, sb.mm, sb.offset(0)).run()
"""


class AsgiStart(unittest.TestCase):
    """Issue 17: a 1-worker FastAPI vassal must cost no more memory than uvicorn's process, so an ASGI worker
    imports nothing of the WSGI side (the routing chain, front.py, wsgi.py) only to name the options it ignores."""

    def test_an_asgi_worker_names_the_options_it_ignores_without_importing_the_wsgi_front(self):
        d = support.temp_dir(self)
        with open(os.path.join(d, 'tiny_asgi.py'), 'w') as f:
            f.write('async def app(scope, receive, send):\n    pass\n')
        out = subprocess.run([sys.executable, '-c', ASGI_START, support.PY_DIR, d], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        seen = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertIn('*** WARNING: route not applied to an ASGI app ***', seen['logged'])
        for name in ('_kaiser.front', '_kaiser.routing', '_kaiser.wsgi', '_kaiser.route_actions', '_kaiser.client_io'):
            self.assertNotIn(name, seen['modules'])


SITE_PATHS = 'import builtins, json, sys; print(json.dumps([[p for p in sys.path if "-packages" in p], hasattr(builtins, "exit")]))'


class RunSite(unittest.TestCase):
    """Issue 17: an ASGI vassal's master starts without site.py (`python3 -S`); its worker runs site.py after the
    fork, so the app sees the site-packages and builtins a normal interpreter start gives it."""

    def test_a_worker_of_a_master_started_without_site_gets_what_a_normal_start_gives(self):
        normal = json.loads(subprocess.run([sys.executable, '-c', SITE_PATHS], capture_output=True, text=True,
                                           check=True).stdout)
        self.assertNotEqual(normal[0], [])
        code = ('import sys; sys.path.insert(0, %r); import _kaiser_bootstrap; from _kaiser import worker; %s; '
                'worker.run_site(); %s' % (support.PY_DIR, SITE_PATHS, SITE_PATHS))
        before, after = [json.loads(line) for line in subprocess.run(
            [sys.executable, '-S', '-c', code], capture_output=True, text=True, check=True).stdout.splitlines()]
        self.assertEqual(before, [[], False])
        self.assertEqual(after, normal)
