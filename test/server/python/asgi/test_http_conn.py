"""asgi/http_conn.py, asgi/connection.py and asgi/http_cycle.py: HTTP/1.1 connections end to end over a fake
transport: responses and their framing, request bodies, keep-alive, pipelining, backpressure, errors."""
import asyncio
import unittest

import asgi_support
from asgi_support import FakeServer, LoopTest, connect, settle
from _kaiser.asgi.http_conn import HttpConnection
from _kaiser.asgi.http_cycle import BODY_HIGH


def hello(body=b'hello', status=200, headers=((b'content-type', b'text/plain'),)):
    async def app(scope, receive, send):
        await send({'type': 'http.response.start', 'status': status, 'headers': list(headers)})
        await send({'type': 'http.response.body', 'body': body})
    return app


def split_response(data):
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(b': ')
        fields[k.lower()] = v
    return lines[0], fields, body


class ConnTest(LoopTest):
    def open(self, app, **limits):
        self.server = FakeServer(app, self.loop, **limits)
        return connect(HttpConnection, self.server)

    def send(self, conn, data):
        conn.data_received(data)
        settle(self.loop)


class Responses(ConnTest):
    def test_keep_alive_response_with_length_date_and_the_next_request(self):
        conn, t = self.open(hello())
        self.send(conn, b'GET /a HTTP/1.1\r\nHost: x\r\n\r\n')
        status, fields, body = split_response(t.take())
        self.assertEqual(status, b'HTTP/1.1 200 OK')
        self.assertEqual((fields[b'content-length'], body), (b'5', b'hello'))
        self.assertIn(b'date', fields)
        self.assertNotIn(b'connection', fields)
        self.assertFalse(t.closed)
        self.send(conn, b'GET /b HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual(split_response(t.take())[2], b'hello')
        self.assertEqual([c.scope['path'] for c in self.server.started], ['/a', '/b'])

    def test_scope(self):
        conn, t = self.open(hello(), state={'k': 1})
        self.send(conn, b'GET /p%20q?x=1 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n')
        scope = self.server.started[0].scope
        self.assertEqual(scope['type'], 'http')
        self.assertEqual(scope['asgi']['version'], '3.0')
        self.assertEqual((scope['method'], scope['path'], scope['raw_path'], scope['query_string']),
                         ('GET', '/p q', b'/p%20q', b'x=1'))
        self.assertEqual(scope['headers'], [(b'host', b'h'), (b'x-a', b'b')])
        self.assertEqual((scope['client'], scope['server'], scope['scheme']), (('127.0.0.1', 40000), ('127.0.0.1', 8000), 'http'))
        self.assertEqual(scope['state'], {'k': 1})
        self.assertIsNot(scope['state'], self.server.state)

    def test_pipelined_requests_are_answered_in_order_one_at_a_time(self):
        order = []

        async def app(scope, receive, send):
            order.append('start ' + scope['path'])
            await asyncio.sleep(0.01 if scope['path'] == '/1' else 0)
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': scope['path'].encode()})
            order.append('end ' + scope['path'])
        conn, t = self.open(app)
        conn.data_received(b'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n')
        self.loop.run_until_complete(asyncio.sleep(0.05))
        out = t.take()
        self.assertLess(out.index(b'\r\n\r\n/1'), out.index(b'\r\n\r\n/2'))
        self.assertEqual(order, ['start /1', 'end /1', 'start /2', 'end /2'])

    def test_streamed_response_is_chunked_and_ends_with_the_last_chunk(self):
        async def app(scope, receive, send):
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'ab', 'more_body': True})
            await send({'type': 'http.response.body', 'body': b'', 'more_body': True})
            await send({'type': 'http.response.body', 'body': b'cde', 'more_body': True})
            await send({'type': 'http.response.body', 'body': b'f'})
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        status, fields, body = split_response(t.take())
        self.assertEqual(fields[b'transfer-encoding'], b'chunked')
        self.assertEqual(body, b'2\r\nab\r\n3\r\ncde\r\n1\r\nf\r\n0\r\n\r\n')
        self.assertFalse(t.closed)

    def test_streamed_response_to_http_1_0_is_close_delimited(self):
        async def app(scope, receive, send):
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'ab', 'more_body': True})
            await send({'type': 'http.response.body', 'body': b'c'})
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        status, fields, body = split_response(t.take())
        self.assertNotIn(b'transfer-encoding', fields)
        self.assertEqual(body, b'abc')
        self.assertTrue(t.closed)

    def test_http_1_0_keep_alive_is_announced(self):
        conn, t = self.open(hello())
        self.send(conn, b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        self.assertEqual(split_response(t.take())[1][b'connection'], b'keep-alive')
        self.assertFalse(t.closed)

    def test_head_204_and_304_have_no_body(self):
        conn, t = self.open(hello(body=b''))
        self.send(conn, b'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n')
        out = t.take()
        self.assertTrue(out.endswith(b'\r\n\r\n'))
        self.assertNotIn(b'content-length', out)
        for status in (204, 304):
            conn, t = self.open(hello(body=b'', status=status, headers=()))
            self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            out = t.take()
            self.assertTrue(out.endswith(b'\r\n\r\n'), out)
            self.assertNotIn(b'content-length', out)
            self.assertNotIn(b'transfer-encoding', out)

    def test_head_with_the_apps_content_length_keeps_it_and_sends_no_body(self):
        conn, t = self.open(hello(body=b'12345', headers=[(b'content-length', b'5')]))
        self.send(conn, b'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n')
        out = t.take()
        self.assertTrue(out.endswith(b'content-length: 5\r\n' + out.split(b'content-length: 5\r\n')[1].split(b'\r\n\r\n')[0] + b'\r\n\r\n'))
        self.assertFalse(out.endswith(b'12345'))

    def test_connection_close_from_the_client_or_the_app(self):
        conn, t = self.open(hello())
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        self.assertEqual(split_response(t.take())[1][b'connection'], b'close')
        self.assertTrue(t.closed)
        conn, t = self.open(hello(headers=[(b'connection', b'close')]))
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(t.closed)

    def test_a_retiring_worker_answers_with_connection_close(self):
        conn, t = self.open(hello())
        self.server.stopping = True
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual(split_response(t.take())[1][b'connection'], b'close')
        self.assertTrue(t.closed)


class Failures(ConnTest):
    def test_exception_before_the_response_is_500_and_close(self):
        async def app(scope, receive, send):
            raise ValueError('boom')
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(t.take().startswith(b'HTTP/1.1 500 Internal Server Error\r\n'))
        self.assertTrue(t.closed)
        self.assertTrue(self.server.ended[0].exception)
        self.assertIn('ValueError: boom', self.logged[0])

    def test_returning_without_a_response_is_500(self):
        async def app(scope, receive, send):
            pass
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(t.take().startswith(b'HTTP/1.1 500 '))

    def test_exception_mid_stream_closes_without_the_last_chunk(self):
        async def app(scope, receive, send):
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'part', 'more_body': True})
            raise ValueError('mid')
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertFalse(t.take().endswith(b'0\r\n\r\n'))
        self.assertTrue(t.closed)

    def test_body_longer_or_shorter_than_content_length(self):
        conn, t = self.open(hello(body=b'toolong', headers=[(b'content-length', b'3')]))
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(t.closed)
        self.assertIn('longer than its Content-Length', '\n'.join(self.logged))
        conn, t = self.open(hello(body=b'ab', headers=[(b'content-length', b'3')]))
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(t.closed)

    def test_header_injection_is_refused(self):
        conn, t = self.open(hello(headers=[(b'x', b'a\r\nSet-Cookie: evil=1')]))
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        out = t.take()
        self.assertTrue(out.startswith(b'HTTP/1.1 500 '))
        self.assertNotIn(b'evil', out)

    def test_protocol_misuse_raises_in_the_app(self):
        for messages in ([{'type': 'http.response.body', 'body': b'x'}],
                         [{'type': 'http.response.start', 'status': 200}, {'type': 'http.response.start', 'status': 200}],
                         [{'type': 'websocket.accept'}],
                         [{'type': 'http.response.start', 'status': 'abc'}]):
            async def app(scope, receive, send, messages=messages):
                for m in messages:
                    await send(m)
            conn, t = self.open(app)
            self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            with self.subTest(messages=messages):
                self.assertTrue(t.take().startswith(b'HTTP/1.1 500 '))

    def test_bad_heads_oversized_heads_and_limit_post(self):
        for data, status, limits in ((b'GET / HTTP/1.1\r\n\r\n', b'400', {}),
                                     (b'GET / HTTP/1.1\r\nHost: x\r\nX: ' + b'a' * 5000, b'431', {}),
                                     (b'GET / HTTP/1.1\r\nHost: x\r\nX: ' + b'a' * 5000 + b'\r\n\r\n', b'431', {}),
                                     (b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n', b'413',
                                      {'limit_post': 10})):
            conn, t = self.open(hello(), **limits)
            self.send(conn, data)
            with self.subTest(status=status):
                out = t.take()
                self.assertTrue(out.startswith(b'HTTP/1.1 ' + status), out[:40])
                self.assertTrue(t.eof_written or t.closed)
                self.assertEqual(self.server.started, [])

    def test_a_chunked_body_over_limit_post_is_413(self):
        async def app(scope, receive, send):
            while (await receive())['type'] == 'http.request':
                pass
        conn, t = self.open(app, limit_post=10)
        self.send(conn, b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n')
        self.assertEqual(t.out, b'')
        self.send(conn, b'8\r\n12345678\r\n')
        self.assertTrue(t.take().startswith(b'HTTP/1.1 413 '))
        self.assertTrue(t.closed)


class RequestBodies(ConnTest):
    def echo(self, seen):
        async def app(scope, receive, send):
            body = b''
            while True:
                m = await receive()
                seen.append(m)
                body += m.get('body', b'')
                if not m.get('more_body'):
                    break
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': body})
        return app

    def test_content_length_body_in_pieces(self):
        seen = []
        conn, t = self.open(self.echo(seen))
        self.send(conn, b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234')
        self.send(conn, b'56789GET /next HTTP/1.1\r\nHost: x\r\n\r\n')
        out = t.take()
        self.assertIn(b'\r\n\r\n0123456789', out)
        self.assertEqual(seen[0], {'type': 'http.request', 'body': b'01234', 'more_body': True})
        self.assertEqual(seen[-1]['more_body'], False)
        self.assertEqual(self.server.started[-1].scope['path'], '/next')

    def test_chunked_request_body(self):
        seen = []
        conn, t = self.open(self.echo(seen))
        self.send(conn, b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n')
        self.send(conn, b'2\r\nde\r\n0\r\n\r\n')
        self.assertTrue(t.take().endswith(b'\r\n\r\nabcde'))

    def test_a_get_without_body_gets_one_empty_message_then_waits(self):
        got = []

        async def app(scope, receive, send):
            got.append(await receive())
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'x', 'more_body': True})
            got.append(await receive())      # blocks until the response is complete or the client leaves
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual(got, [{'type': 'http.request', 'body': b'', 'more_body': False}])
        conn.connection_lost(None)
        settle(self.loop)
        self.assertEqual(got[1], {'type': 'http.disconnect'})

    def test_backpressure_pauses_reading_until_the_app_takes_the_body(self):
        gate = asyncio.Event()
        seen = []

        async def app(scope, receive, send):
            await gate.wait()
            while True:
                m = await receive()
                seen.append(len(m['body']))
                if not m['more_body']:
                    break
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'ok'})
        conn, t = self.open(app)
        n = BODY_HIGH * 3
        self.send(conn, b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % n)
        conn.data_received(b'x' * (BODY_HIGH + 1))
        self.assertFalse(t.reading)
        gate.set()
        settle(self.loop)
        self.assertTrue(t.reading)
        conn.data_received(b'x' * (n - BODY_HIGH - 1))
        settle(self.loop)
        self.assertEqual(sum(seen), n)
        self.assertTrue(t.take().endswith(b'ok'))

    def test_expect_100_continue_is_sent_when_the_app_first_reads(self):
        gate = asyncio.Event()
        conn, t = self.open(None)

        async def app(scope, receive, send):
            await gate.wait()
            m = await receive()
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': m['body']})
        self.server.app = app
        self.send(conn, b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n')
        self.assertEqual(t.out, b'')
        gate.set()
        settle(self.loop)
        self.assertEqual(t.take(), b'HTTP/1.1 100 Continue\r\n\r\n')
        self.send(conn, b'hi')
        self.assertTrue(t.take().endswith(b'hi'))

    def test_unread_body_is_discarded_and_the_connection_kept(self):
        conn, t = self.open(hello())
        self.send(conn, b'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc')
        self.assertTrue(t.take().endswith(b'hello'))
        self.send(conn, b'defGET /b HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual([c.scope['path'] for c in self.server.started], ['/a', '/b'])
        self.assertFalse(t.closed)


class Disconnects(ConnTest):
    def test_send_after_the_client_left_raises_an_oserror_and_receive_says_disconnect(self):
        outcome = []
        gate = asyncio.Event()

        async def app(scope, receive, send):
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'a', 'more_body': True})
            await gate.wait()
            outcome.append(await receive())
            try:
                await send({'type': 'http.response.body', 'body': b'b', 'more_body': True})
            except OSError as e:
                outcome.append(type(e).__name__)
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        conn.connection_lost(None)
        gate.set()
        settle(self.loop)
        self.assertEqual(outcome, [{'type': 'http.disconnect'}, 'ClientDisconnect'])
        self.assertFalse(self.server.ended[0].exception)

    def test_write_backpressure_waits_for_resume(self):
        steps = []

        async def app(scope, receive, send):
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            conn.pause_writing()
            await send({'type': 'http.response.body', 'body': b'a', 'more_body': True})
            steps.append('resumed')
            await send({'type': 'http.response.body', 'body': b''})
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual(steps, [])
        conn.resume_writing()
        settle(self.loop)
        self.assertEqual(steps, ['resumed'])

    def test_a_fin_from_the_client_is_a_disconnect(self):
        got = []

        async def app(scope, receive, send):
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
            await send({'type': 'http.response.body', 'body': b'a', 'more_body': True})
            await receive()
            got.append(await receive())
        conn, t = self.open(app)
        self.send(conn, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertFalse(conn.eof_received())       # asyncio closes the transport
        conn.connection_lost(None)
        settle(self.loop)
        self.assertEqual(got, [{'type': 'http.disconnect'}])


class Sweep(ConnTest):
    def test_idle_keep_alive_partial_heads_and_the_retire_grace(self):
        conn, t = self.open(hello())
        now = conn.last
        self.assertIsNone(conn.overdue(now + 1, 4.0, False))
        self.assertEqual(conn.overdue(now + 5, 4.0, False), '')
        self.assertEqual(conn.overdue(now + 0.6, 4.0, True), '')
        conn.data_received(b'GET / HTTP/1.1\r\n')
        self.assertIsNone(conn.overdue(now + 1, 4.0, False))
        self.assertIn('request head not complete', conn.overdue(now + 5, 4.0, False))


if __name__ == '__main__':
    unittest.main()
