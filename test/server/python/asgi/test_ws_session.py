"""asgi/ws_session.py: the websocket upgrade, the ASGI websocket messages, pings, closes and denial responses,
over a fake transport."""
import asyncio
import unittest

import asgi_support  # noqa: F401
from asgi_support import FakeServer, LoopTest, connect, settle
from test_ws_frames import client_frame
from _kaiser.asgi import ws_frames
from _kaiser.asgi.http_conn import HttpConnection
from _kaiser.asgi.ws_frames import BINARY, CLOSE, PING, TEXT

UPGRADE = (b'GET /ws?room=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
           b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
           b'Sec-WebSocket-Protocol: chat, superchat\r\n\r\n')


def server_frames(data):
    """Parse unmasked server frames -> [(opcode, payload)]."""
    out = []
    while data:
        op = data[0] & 0x0F
        n = data[1] & 0x7F
        pos = 2
        if n == 126:
            n = int.from_bytes(data[2:4], 'big')
            pos = 4
        elif n == 127:
            n = int.from_bytes(data[2:10], 'big')
            pos = 10
        out.append((op, data[pos:pos + n]))
        data = data[pos + n:]
    return out


def echo_app(events):
    async def app(scope, receive, send):
        events.append(await receive())
        await send({'type': 'websocket.accept', 'subprotocol': 'chat', 'headers': [(b'x-room', b'1')]})
        while True:
            m = await receive()
            events.append(m)
            if m['type'] == 'websocket.disconnect':
                return
            if m.get('text') is not None:
                await send({'type': 'websocket.send', 'text': 'echo:' + m['text']})
            else:
                await send({'type': 'websocket.send', 'bytes': m['bytes']})
    return app


class WsTest(LoopTest):
    def open(self, app, **limits):
        self.server = FakeServer(app, self.loop, **limits)
        conn, t = connect(HttpConnection, self.server)
        conn.data_received(UPGRADE)
        settle(self.loop)
        return conn, t

    def test_handshake_scope_echo_and_client_close(self):
        events = []
        conn, t = self.open(echo_app(events))
        head = t.take()
        self.assertTrue(head.startswith(b'HTTP/1.1 101 Switching Protocols\r\n'))
        self.assertIn(b'sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n', head)
        self.assertIn(b'sec-websocket-protocol: chat\r\n', head)
        self.assertIn(b'x-room: 1\r\n', head)
        scope = self.server.started[0].scope
        self.assertEqual((scope['type'], scope['path'], scope['query_string'], scope['subprotocols']),
                         ('websocket', '/ws', b'room=1', ['chat', 'superchat']))
        conn.data_received(client_frame(TEXT, b'hi') + client_frame(BINARY, b'\x00\xff'))
        settle(self.loop)
        self.assertEqual(server_frames(t.take()), [(TEXT, b'echo:hi'), (BINARY, b'\x00\xff')])
        conn.data_received(client_frame(CLOSE, b'\x03\xe9going'))
        settle(self.loop)
        self.assertEqual(server_frames(t.take()), [(CLOSE, b'\x03\xe9')])
        self.assertEqual(events[0], {'type': 'websocket.connect'})
        self.assertEqual(events[-1], {'type': 'websocket.disconnect', 'code': 1001, 'reason': 'going'})
        self.assertTrue(t.eof_written or t.closed)
        self.assertEqual(len(self.server.ended), 1)

    def test_ping_gets_a_pong_even_while_the_app_is_busy(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            await asyncio.sleep(3600)
        conn, t = self.open(app)
        t.take()
        conn.data_received(client_frame(PING, b'are you there'))
        self.assertEqual(server_frames(t.take()), [(ws_frames.PONG, b'are you there')])

    def test_lost_connection_is_1006_and_send_then_raises(self):
        outcome = []

        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            outcome.append(await receive())
            try:
                await send({'type': 'websocket.send', 'text': 'late'})
            except OSError:
                outcome.append('raised')
        conn, t = self.open(app)
        conn.connection_lost(None)
        settle(self.loop)
        self.assertEqual(outcome, [{'type': 'websocket.disconnect', 'code': 1006, 'reason': ''}, 'raised'])

    def test_close_before_accept_is_403(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.close'})
        conn, t = self.open(app)
        self.assertTrue(t.take().startswith(b'HTTP/1.1 403 Forbidden\r\n'))

    def test_app_closing_with_a_code_and_reason(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            await send({'type': 'websocket.close', 'code': 4001, 'reason': 'bye'})
        conn, t = self.open(app)
        self.assertEqual(server_frames(t.take().split(b'\r\n\r\n', 1)[1]), [(CLOSE, b'\x0f\xa1bye')])

    def test_app_exception_after_accept_closes_with_1011(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            raise ValueError('oops')
        conn, t = self.open(app)
        self.assertEqual(server_frames(t.take().split(b'\r\n\r\n', 1)[1]), [(CLOSE, b'\x03\xf3')])
        self.assertIn('ValueError: oops', '\n'.join(self.logged))

    def test_app_returning_without_accepting_is_500(self):
        async def app(scope, receive, send):
            await receive()
        conn, t = self.open(app)
        self.assertTrue(t.take().startswith(b'HTTP/1.1 500 '))

    def test_denial_response_extension(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.http.response.start', 'status': 401, 'headers': [(b'x-why', b'token')]})
            await send({'type': 'websocket.http.response.body', 'body': b'no token'})
        conn, t = self.open(app)
        out = t.take()
        self.assertTrue(out.startswith(b'HTTP/1.1 401 Unauthorized\r\nx-why: token\r\n'))
        self.assertTrue(out.endswith(b'no token'))

    def test_protocol_error_closes_with_its_code(self):
        events = []
        conn, t = self.open(echo_app(events))
        t.take()
        conn.data_received(client_frame(TEXT, b'\xff\xfe'))
        settle(self.loop)
        self.assertEqual(server_frames(t.take()), [(CLOSE, b'\x03\xef')])
        self.assertEqual(events[-1]['code'], 1007)

    def test_oversized_message_is_1009(self):
        events = []
        conn, t = self.open(echo_app(events), ws_max_size=10)
        t.take()
        conn.data_received(client_frame(BINARY, b'x' * 11))
        settle(self.loop)
        self.assertEqual(server_frames(t.take()), [(CLOSE, b'\x03\xf1')])

    def test_bad_upgrade_requests(self):
        for req, status in ((UPGRADE.replace(b'Sec-WebSocket-Version: 13', b'Sec-WebSocket-Version: 8'), b'426'),
                            (UPGRADE.replace(b'dGhlIHNhbXBsZSBub25jZQ==', b'bad'), b'400'),
                            (UPGRADE.replace(b'GET', b'POST'), b'400')):
            self.server = FakeServer(None, self.loop)
            conn, t = connect(HttpConnection, self.server)
            conn.data_received(req)
            with self.subTest(status=status):
                out = t.take()
                self.assertTrue(out.startswith(b'HTTP/1.1 ' + status), out[:40])
                if status == b'426':
                    self.assertIn(b'sec-websocket-version: 13\r\n', out)

    def test_pings_on_a_quiet_connection_and_a_missing_pong(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            await asyncio.sleep(3600)
        conn, t = self.open(app, ws_ping_freq=10, ws_pong_tolerance=3)
        t.take()
        ws = conn.ws
        now = conn.last
        self.assertTrue(ws.check(now + 5))
        self.assertEqual(t.take(), b'')
        self.assertTrue(ws.check(now + 11))
        self.assertEqual(server_frames(t.take()), [(PING, b'kaiser')])
        conn.data_received(client_frame(ws_frames.PONG, b'kaiser'))
        t0 = conn.last
        self.assertTrue(ws.check(t0 + 11))          # answered: the next quiet period pings again
        self.assertEqual(server_frames(t.take()), [(PING, b'kaiser')])
        self.assertTrue(ws.check(t0 + 13))
        self.assertFalse(ws.check(t0 + 15))         # no pong within the tolerance

    def test_reading_pauses_while_messages_wait_for_the_app_and_resumes_as_it_takes_them(self):
        gate = asyncio.Event()
        got = []

        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            await gate.wait()
            while len(got) < 70:
                got.append((await receive())['text'])
        conn, t = self.open(app)
        t.take()
        conn.data_received(b''.join(client_frame(TEXT, b'm%d' % i) for i in range(70)))
        settle(self.loop)
        self.assertFalse(t.reading)
        gate.set()
        settle(self.loop)
        self.assertTrue(t.reading)
        self.assertEqual(got, ['m%d' % i for i in range(70)])

    def test_going_away_sends_1012(self):
        async def app(scope, receive, send):
            await receive()
            await send({'type': 'websocket.accept'})
            await asyncio.sleep(3600)
        conn, t = self.open(app)
        t.take()
        conn.ws.going_away()
        self.assertEqual(server_frames(t.take())[0][1][:2], b'\x03\xf4')


if __name__ == '__main__':
    unittest.main()
