"""core: one request core answering raw bytes on a real socket: keep-alive, pipelining, bodies, rejects, uwsgi."""
import socket
import time
import unittest
from unittest import mock

import support
from support import CoreHarness, echo_app, hello_app
from _kaiser import uwsgi_proto
from _kaiser import sockets
from _kaiser.core import ACCEPT_BATCH, STOP_GRACE, Core
from _kaiser.serving import template


class Http(unittest.TestCase):
    def test_a_request_gets_its_response_and_the_connection_stays_open(self):
        h = CoreHarness(self, hello_app)
        h.send(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual(h.response(), b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello')
        self.assertTrue(h.is_open())
        self.assertEqual(h.worker.slot.requests, 1)
        self.assertEqual(h.worker.first_requests, 1)

    def test_pipelined_requests_are_answered_in_order(self):
        h = CoreHarness(self, echo_app)
        h.send(b'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n')
        res = h.response()
        self.assertLess(res.index(b'X-Path: /a'), res.index(b'X-Path: /b'))

    def test_connection_close_closes(self):
        h = CoreHarness(self, hello_app)
        h.send(b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
        self.assertIn(b'Connection: close', h.response())
        self.assertFalse(h.is_open())

    def test_http_10_without_keep_alive_closes(self):
        h = CoreHarness(self, hello_app)
        h.send(b'GET / HTTP/1.0\r\n\r\n')
        self.assertTrue(h.response().startswith(b'HTTP/1.0 200 OK'))
        self.assertFalse(h.is_open())

    def test_a_content_length_body_reaches_the_app(self):
        h = CoreHarness(self, echo_app)
        h.send(b'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')
        self.assertTrue(h.response().endswith(b'\r\n\r\nhello'))

    def test_a_chunked_body_reaches_the_app(self):
        h = CoreHarness(self, echo_app)
        h.send(b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
        self.assertTrue(h.response().endswith(b'\r\n\r\nabcde'))

    def test_expect_100_continue_is_answered_before_the_body_is_read(self):
        h = CoreHarness(self, echo_app)
        h.send(b'POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK'))

    def test_garbage_and_bad_framing_get_400_and_close(self):
        for raw in (b'garbage\r\n\r\n', b'GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n',
                    b'GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
                    b'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n',
                    b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'):
            with self.subTest(raw=raw):
                h = CoreHarness(self, hello_app)
                h.send(raw)
                self.assertTrue(h.response().startswith(b'HTTP/1.1 400 Bad Request\r\n'))
                self.assertFalse(h.is_open())

    def test_a_head_larger_than_buffer_size_gets_431(self):
        h = CoreHarness(self, hello_app, buffer_size=1024)
        h.send(b'GET / HTTP/1.1\r\nX-Big: ' + b'a' * 2000 + b'\r\n\r\n')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 431 '))

    def test_stray_empty_lines_between_requests_are_skipped(self):
        h = CoreHarness(self, hello_app)
        h.send(b'\r\n')
        h.send(b'GET / HTTP/1.1\r\n\r\n')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 200 OK'))

    def test_the_last_request_before_max_requests_retires_the_worker_and_closes(self):
        h = CoreHarness(self, hello_app, max_requests=1)
        h.send(b'GET / HTTP/1.1\r\n\r\n')
        self.assertEqual(h.worker.retired, ['max-requests'])
        self.assertIn(b'Connection: close', h.response())


class Uwsgi(unittest.TestCase):
    def test_a_uwsgi_packet_gets_an_http_response_and_the_connection_closes(self):
        h = CoreHarness(self, echo_app, proto='uwsgi')
        h.send(uwsgi_proto.build({'REQUEST_METHOD': 'POST', 'REQUEST_URI': '/u?q=1', 'QUERY_STRING': 'q=1',
                                  'CONTENT_LENGTH': '3', 'SERVER_PROTOCOL': 'HTTP/1.1'}) + b'abc')
        res = h.response()
        self.assertTrue(res.startswith(b'HTTP/1.1 200 OK'))
        self.assertIn(b'X-Path: /u', res)
        self.assertTrue(res.endswith(b'abc'))
        self.assertFalse(h.is_open())

    def test_a_packet_larger_than_buffer_size_is_refused(self):
        h = CoreHarness(self, hello_app, proto='uwsgi', buffer_size=1024)
        h.send(uwsgi_proto.build({'X': 'y' * 2000}))
        self.assertEqual(h.response(), b'')
        self.assertFalse(h.is_open())


class Environ(unittest.TestCase):
    def test_the_template_has_the_pep_3333_keys_and_the_version(self):
        h = CoreHarness(self, hello_app, threads=2)
        env = template(h.worker, h.worker.listeners[0], 1)
        self.assertEqual(env['wsgi.version'], (1, 0))
        self.assertTrue(env['wsgi.multithread'])
        self.assertEqual(env['uwsgi.core'], 1)
        self.assertEqual(env['uwsgi.version'], ('kaiser-' + support.VERSION).encode())

    def test_a_stopping_core_closes_idle_connections_after_the_grace(self):
        h = CoreHarness(self, hello_app)
        h.core.begin_stop()
        h.core.sweep(h.core.stop_time + STOP_GRACE - 0.01)
        self.assertTrue(h.is_open())
        h.core.sweep(h.core.stop_time + STOP_GRACE)
        self.assertFalse(h.is_open())



class RecordingEpoll:
    """The core's epoll, recording which fds were registered (a C epoll object's methods cannot be patched)."""

    def __init__(self, ep):
        self.ep = ep
        self.registered = []

    def register(self, fd, events):
        self.registered.append(fd)
        self.ep.register(fd, events)

    def __getattr__(self, name):
        return getattr(self.ep, name)


class Accepting(unittest.TestCase):
    """A core on a real uwsgi listener: what a connection costs between accept() and close()."""

    def setUp(self):
        with mock.patch.object(support._log, 'log', lambda msg: None):
            [self.l], _ = sockets.bind_all([('uwsgi', '127.0.0.1:0')], support.make_config())
        self.addCleanup(self.l.close)
        worker = support.FakeWorker(self, hello_app, 'uwsgi', disable_logging=True)
        worker.listeners = [self.l]
        self.core = Core(worker, 0)
        self.addCleanup(self.core.ep.close)
        self.core.ep = RecordingEpoll(self.core.ep)

    def client(self, send=True):
        c = socket.create_connection(('127.0.0.1', int(self.l.server_port)), timeout=2)
        self.addCleanup(c.close)
        if send:
            c.sendall(uwsgi_proto.build({'REQUEST_METHOD': 'GET', 'REQUEST_URI': '/', 'SERVER_PROTOCOL': 'HTTP/1.1'}))
        return c

    @staticmethod
    def answer(c):
        data = b''
        while True:
            d = c.recv(65536)
            if not d:
                return data
            data += d

    def test_a_request_sent_with_the_connection_is_served_at_once_without_joining_epoll(self):
        c = self.client()
        self.core.accept_batch(self.l)
        self.assertTrue(self.answer(c).startswith(b'HTTP/1.1 200 OK'))
        self.assertEqual(self.core.ep.registered, [])
        self.assertEqual(self.core.conns, {})

    def test_a_connection_whose_request_is_not_there_yet_waits_in_epoll(self):
        c = self.client(send=False)
        self.core.accept_batch(self.l)
        [conn] = self.core.conns.values()
        self.assertEqual(self.core.ep.registered, [conn.fd])
        self.assertTrue(conn.sock.getblocking())     # no ioctl per connection: its I/O is MSG_DONTWAIT
        c.sendall(uwsgi_proto.build({'REQUEST_METHOD': 'GET', 'REQUEST_URI': '/', 'SERVER_PROTOCOL': 'HTTP/1.1'}))
        self.assertEqual(self.core.ep.poll(2), [(conn.fd, 1)])
        self.core.readable(conn)
        self.assertTrue(self.answer(c).startswith(b'HTTP/1.1 200 OK'))
        self.assertEqual(self.core.conns, {})

    def test_connections_queued_together_are_served_in_one_turn_up_to_the_batch(self):
        clients = [self.client() for _ in range(ACCEPT_BATCH + 1)]
        self.core.accept_batch(self.l)
        for c in clients[:ACCEPT_BATCH]:
            self.assertTrue(self.answer(c).startswith(b'HTTP/1.1 200 OK'))
        self.assertEqual(self.core.requests, ACCEPT_BATCH)
        self.core.accept_batch(self.l)
        self.assertTrue(self.answer(clients[-1]).startswith(b'HTTP/1.1 200 OK'))


if __name__ == '__main__':
    unittest.main()


class StrictHttp(unittest.TestCase):
    """Issue 14 through a real core: framing a proxy could read differently is refused; bodies never hold the core."""

    def test_malformed_or_repeated_framing_gets_400(self):
        head = b'POST / HTTP/1.1\r\nHost: x\r\n'
        for raw in (head + b'Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello',
                    head + b'Content-Length: +5\r\n\r\nhello',
                    head + b'Content-Length: 0_5\r\n\r\nhello',
                    head + b'Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n',
                    head + b'Transfer-Encoding: chunked\r\n\r\n5_\r\nhello\r\n0\r\n\r\n',
                    b'GET /\x01 HTTP/1.1\r\n\r\n', head + b'X: a\x00b\r\n\r\n'):
            with self.subTest(raw=raw):
                h = CoreHarness(self, echo_app)
                h.send(raw)
                self.assertTrue(h.response().startswith(b'HTTP/1.1 400 Bad Request\r\n'))
                self.assertFalse(h.is_open())

    def test_content_length_with_an_underscore_is_not_the_length(self):
        seen = []

        def app(env, start_response):
            seen.append((env.get('CONTENT_LENGTH'), env['wsgi.input'].read()))
            start_response('200 OK', [])
            return [b'ok']
        h = CoreHarness(self, app)
        h.send(b'POST /a HTTP/1.1\r\nContent_Length: 5\r\nConnection: close\r\n\r\nhello')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 200 OK'))
        self.assertEqual(seen, [(None, b'')])

    def test_a_body_still_arriving_does_not_run_the_app_or_hold_the_core(self):
        calls = []

        def app(env, start_response):
            calls.append(env['wsgi.input'].read())
            start_response('200 OK', [])
            return [b'ok']
        h = CoreHarness(self, app)
        h.send(b'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc')
        self.assertEqual(calls, [])               # the core is free: it returned to its loop
        self.assertIsNotNone(h.conn.receiving)
        h.send(b'defghij')
        self.assertEqual(calls, [b'abcdefghij'])
        self.assertTrue(h.response().startswith(b'HTTP/1.1 200 OK'))

    def test_a_request_not_complete_within_request_read_timeout_gets_408(self):
        h = CoreHarness(self, echo_app, request_read_timeout=5, socket_timeout=60)
        h.send(b'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc')
        started = h.conn.started
        h.core.sweep(started + 4.9)
        self.assertTrue(h.is_open())
        h.core.sweep(started + 5)
        self.assertTrue(h.response().startswith(b'HTTP/1.1 408 Request Timeout\r\n'))
        self.assertFalse(h.is_open())

    def test_a_head_trickled_byte_by_byte_gets_408_too(self):
        h = CoreHarness(self, echo_app, request_read_timeout=5, socket_timeout=60)
        h.send(b'GET / HT')
        h.core.sweep(h.conn.started + 5)
        self.assertTrue(h.response().startswith(b'HTTP/1.1 408 '))

    def test_the_deadline_starts_again_with_each_request_on_a_keep_alive_connection(self):
        h = CoreHarness(self, hello_app, request_read_timeout=5)
        h.send(b'GET / HTTP/1.1\r\n\r\n')
        self.assertIsNone(h.conn.started)
        h.core.sweep(time.monotonic() + 3600)     # an idle keep-alive connection is socket-timeout's business
        self.assertFalse(h.is_open())             # … which closed it, without a 408
        self.assertNotIn(b'408', h.response())


class HttpTimeout(unittest.TestCase):
    def test_http_timeout_is_the_idle_timeout_of_the_http_router_sockets_only(self):
        from types import SimpleNamespace as L
        from _kaiser.core import idle_timeouts
        routed, direct = L(fd=7, addr='127.0.0.1:8000'), L(fd=8, addr='127.0.0.1:8001')
        cfg = support.make_config(http=['127.0.0.1:8000'], http_socket=['127.0.0.1:8001'], http_timeout=60)
        self.assertEqual(idle_timeouts(cfg, [routed, direct]), {7: 60.0})
        self.assertEqual(idle_timeouts(support.make_config(http=['127.0.0.1:8000']), [routed, direct]), {})

    def test_a_connection_of_such_a_socket_stays_open_past_socket_timeout(self):
        h = CoreHarness(self, hello_app, socket_timeout=4)
        h.send(b'GET / HTTP/1.1\r\n\r\n')
        h.core.timeouts = {h.conn.lfd: 60.0}
        h.core.sweep(h.conn.last + 30)
        self.assertTrue(h.is_open())
        h.core.sweep(h.conn.last + 61)
        self.assertFalse(h.is_open())


class LingeringClose(unittest.TestCase):
    def test_a_reject_half_closes_and_the_loop_drains_without_waiting(self):
        h = CoreHarness(self, hello_app)
        h.send(b'garbage\r\n\r\nmore bytes the client is still sending')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 400 '))   # and it reads the response, then EOF
        self.assertIn(h.conn.fd, h.core.conns)
        self.assertIsNotNone(h.conn.lingering)
        h.client.sendall(b'x' * 100)
        h.core.readable(h.conn)
        self.assertIn(h.conn.fd, h.core.conns)              # drained, still lingering
        h.core.sweep(h.conn.lingering)
        self.assertNotIn(h.conn.fd, h.core.conns)

    def test_a_client_closing_ends_the_linger(self):
        h = CoreHarness(self, hello_app)
        h.send(b'garbage\r\n\r\n')
        h.client.close()
        h.core.readable(h.conn)
        self.assertNotIn(h.conn.fd, h.core.conns)
