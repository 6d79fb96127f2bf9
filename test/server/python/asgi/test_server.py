"""asgi/server.py and asgi/accounting.py: a worker's event loop over a real listening socket (accepting, the
scoreboard, status messages, max-requests, asgi-max-concurrency, harakiri, the graceful retire and the
lifespan around it), with the worker process itself played by a fake."""
import asyncio
import json
import os
import signal
import sys
import unittest

import asgi_support  # noqa: F401
from asgi_support import LoopTest
from _kaiser import config as _config, log, sockets
from _kaiser.scoreboard import Scoreboard, SlotWriter
from _kaiser.asgi import server as server_mod
from _kaiser.asgi.accounting import Accounting


class LoadFailed(Exception):
    pass


class FakeWorker:
    """What asgi/server.py uses of worker.py's Worker, recording status messages instead of writing a pipe."""

    def __init__(self, cfg, listeners):
        self.cfg = cfg
        self.max_requests = cfg['max-requests']
        self.listeners = listeners
        self.sb = Scoreboard(2, 1)
        self.mm = self.sb.mm
        self.slot = SlotWriter(self.sb.mm, self.sb.offset(self.sb.take()))
        self.stopping = [False]
        self.sent = []
        self.tag = 'worker 1 (pid: %d)' % os.getpid()
        self.life_r, self.life_w = os.pipe()
        self.restored_at = None

    def send(self, obj):
        self.sent.append(obj)

    def first_request(self):
        self.sent.append({'act': 'first-request'})

    def full_priority(self):
        self.restored_at = len(self.sent)      # how many status messages went out before (load_priority.py)

    def master_gone(self):
        raise AssertionError('life pipe closed')

    def fail_load(self, error):
        raise LoadFailed(error)

    def acts(self):
        return [m['act'] for m in self.sent]

    def close(self):
        os.close(self.life_r)
        os.close(self.life_w)
        self.sb.close()


async def http_get(port, path='/', headers=b''):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    w.write(b'GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n' % (path.encode(), headers))
    data = await r.read()
    w.close()
    return data


def text_app(events=None, lifespan=True):
    async def app(scope, receive, send):
        if scope['type'] == 'lifespan':
            if not lifespan:
                raise ValueError('no lifespan here')
            while True:
                m = await receive()
                if events is not None:
                    events.append(m['type'])
                await send({'type': m['type'] + '.complete'})
                if m['type'] == 'lifespan.shutdown':
                    return
        path = scope['path']
        if path.startswith('/sleep/'):
            await asyncio.sleep(float(path[7:]))
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
        await send({'type': 'http.response.body', 'body': path.encode()})
    return app


class ServerTest(LoopTest):
    def setUp(self):
        self.addCleanup(self._close_worker)     # after the loop's close: cleanups run last first
        super().setUp()

    def tearDown(self):
        try:
            self.loop.remove_signal_handler(signal.SIGHUP)
        except (ValueError, RuntimeError):
            pass

    def _close_worker(self):
        self.worker.close()
        for l in self.listeners:
            l.close()

    def start(self, app, **options):
        raw = {'http-socket': ['127.0.0.1:0'], 'asgi': 'x:app', 'disable-logging': True}
        raw.update({k.replace('_', '-'): v for k, v in options.items()})
        cfg = _config.parse(json.dumps(raw))
        self.listeners, _ = sockets.bind_all(_config.socket_specs(cfg), cfg)
        self.port = self.listeners[0].sock.getsockname()[1]
        self.worker = FakeWorker(cfg, self.listeners)
        self.server = server_mod.AsgiServer(self.worker, app, self.loop, cfg)
        self.main = self.loop.create_task(self.server.main('asyncio', 0))
        self.wait(asyncio.sleep(0.01))
        return self.server

    def wait(self, coro, timeout=10):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def counters(self):
        return self.worker.sb.worker(0), self.worker.sb.core(0, 0)


class Serving(ServerTest):
    def test_accepts_serves_and_counts_in_the_scoreboard(self):
        events = []
        self.start(text_app(events))
        self.assertEqual(events, ['lifespan.startup'])
        self.assertEqual(self.worker.acts(), ['loaded', 'accepting'])
        self.assertEqual(self.worker.restored_at, 1)     # back to full priority after the startup, before accepting
        reply = self.wait(http_get(self.port, '/hello'))
        self.assertTrue(reply.startswith(b'HTTP/1.1 200 OK\r\n'))
        self.assertTrue(reply.endswith(b'/hello'))
        self.wait(http_get(self.port, '/again'))
        (requests, exceptions, tx, running, _avg, accepting), (start, core_requests, _r, _w) = self.counters()
        self.assertEqual((requests, exceptions, accepting, core_requests, start), (2, 0, 1, 2, 0.0))
        self.assertGreater(tx, 0)
        self.assertEqual(self.worker.acts().count('first-request'), 1)

    def test_lifespan_failure_is_a_load_failure(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'lifespan.startup.failed', 'message': 'db down'})
        raw = {'http-socket': ['127.0.0.1:0'], 'asgi': 'x:app'}
        cfg = _config.parse(json.dumps(raw))
        self.listeners, _ = sockets.bind_all(_config.socket_specs(cfg), cfg)
        self.worker = FakeWorker(cfg, self.listeners)
        srv = server_mod.AsgiServer(self.worker, app, self.loop, cfg)
        with self.assertRaises(LoadFailed) as cm:
            self.wait(srv.main('asyncio', 0))
        self.assertIn('db down', str(cm.exception))
        self.assertNotIn('accepting', self.worker.acts())

    def test_max_requests_retires_with_a_reason(self):
        self.start(text_app(), max_requests=2)
        self.wait(http_get(self.port))
        self.assertNotIn('retiring', self.worker.acts())
        self.assertTrue(self.wait(http_get(self.port)).endswith(b'/'))
        self.assertIn({'act': 'retiring', 'reason': 'max-requests'}, self.worker.sent)
        self.wait(self.main)

    def test_concurrency_limit_makes_requests_wait_never_fail(self):
        self.start(text_app(), asgi_max_concurrency=1)

        async def both():
            return await asyncio.gather(http_get(self.port, '/sleep/0.2'), http_get(self.port, '/second'))
        first, second = self.wait(both())
        self.assertTrue(first.endswith(b'/sleep/0.2'))
        self.assertTrue(second.endswith(b'/second'))

    def test_harakiri_cancels_the_overdue_request_with_504(self):
        self.start(text_app(), harakiri=1)
        reply = self.wait(http_get(self.port, '/sleep/30'))
        self.assertTrue(reply.startswith(b'HTTP/1.1 504 '))
        self.assertIn({'act': 'harakiri'}, self.worker.sent)
        self.assertTrue(any('HARAKIRI ON ASGI REQUEST GET /sleep/30' in line for line in self.logged))
        self.assertTrue(self.wait(http_get(self.port, '/fine')).endswith(b'/fine'))

    def test_graceful_retire_finishes_in_flight_requests_then_runs_shutdown(self):
        events = []
        self.start(text_app(events))
        slow = self.loop.create_task(http_get(self.port, '/sleep/0.3'))
        self.wait(asyncio.sleep(0.1))
        self.server.retire('signal')
        reply = self.wait(slow)
        self.assertTrue(reply.endswith(b'/sleep/0.3'))
        self.assertIn(b'connection: close', reply)
        self.wait(self.main)
        self.assertEqual(events, ['lifespan.startup', 'lifespan.shutdown'])
        self.assertEqual(self.worker.sb.worker(0)[5], 0)      # no longer accepting

    def test_an_app_without_lifespan_is_served(self):
        self.start(text_app(lifespan=False))
        self.assertTrue(self.wait(http_get(self.port, '/x')).endswith(b'/x'))
        self.assertTrue(any('not supported' in line for line in self.logged))


class Loops(unittest.TestCase):
    def test_loop_choice(self):
        loop, name = server_mod.new_loop('asyncio')
        self.assertEqual(name, 'asyncio')
        loop.close()
        try:
            import uvloop  # noqa: F401
            have_uvloop = True
        except ImportError:
            have_uvloop = False
        loop, name = server_mod.new_loop('auto')
        self.assertEqual(name, 'uvloop' if have_uvloop else 'asyncio')
        loop.close()
        if not have_uvloop:
            with self.assertRaises(server_mod.LoopUnavailable) as cm:
                server_mod.new_loop('uvloop')
            self.assertIn('python3-uvloop', str(cm.exception))
        with self.assertRaises(server_mod.LoopUnavailable):
            server_mod.new_loop('trio')


class ConnectionClasses(unittest.TestCase):
    def test_the_uwsgi_protocol_side_is_imported_only_for_a_uwsgi_socket(self):
        # issue 17: uwsgi_conn.py brings uwsgi_proto.py and the WSGI side's http.py into every worker otherwise
        loaded = asgi_support.modules_after('import _kaiser.asgi.server')
        self.assertIn('_kaiser.asgi.http_conn', loaded)
        for name in ('_kaiser.asgi.uwsgi_conn', '_kaiser.uwsgi_proto', '_kaiser.http'):
            self.assertNotIn(name, loaded)
        from _kaiser.asgi.http_conn import HttpConnection
        from _kaiser.asgi.uwsgi_conn import UwsgiConnection
        for proto, cls in (('http', HttpConnection), ('uwsgi', UwsgiConnection)):
            self.assertIs(server_mod._connection_class(type('Listener', (), {'proto': proto})), cls)


class AccountingTest(unittest.TestCase):
    def test_busy_since_is_refreshed_with_harakiri_so_a_blocked_loop_ages(self):
        cfg = _config.parse(json.dumps({'http-socket': [':0'], 'asgi': 'x:app', 'harakiri': 10}))
        w = FakeWorker(cfg, [])
        try:
            a = Accounting(w, cfg)
            a.started(1000.0)
            self.assertEqual(w.sb.core(0, 0)[0], 1000.0)
            a.refresh(1000.0, 1005.0)
            self.assertEqual(w.sb.core(0, 0)[0], 1005.0)
            a.refresh(0.0, 1006.0)
            self.assertEqual(w.sb.core(0, 0)[0], 0.0)
        finally:
            w.close()


if __name__ == '__main__':
    unittest.main()
