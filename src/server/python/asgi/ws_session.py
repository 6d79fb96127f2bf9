r"""One websocket as the ASGI app sees it: the opening handshake, the `receive`/`send` of a `websocket` scope.

   (upgrade request) ──► connecting ──websocket.accept──► open ──websocket.close──► closing ──client close──► closed
                            │  │                            │                       (or CLOSE_WAIT_S)
                            │  └─websocket.http.response──► closed (denial response, ASGI extension)
                            └──websocket.close──► closed (403)   open ──client close / protocol error / lost──► closed

Owns: checking the upgrade request (GET, HTTP/1.1, a 16-byte key, version 13: else 400, or 426 naming the
version), the 101 response with the chosen subprotocol and the app's headers, turning frames into
`websocket.receive` (text or bytes) and `websocket.disconnect` (with the close code; 1006 when the connection
was lost), pong for every ping, server pings every `websockets-ping-freq` on a quiet connection (closed when no
pong comes within `websockets-pong-tolerance`), close with 1012 when the worker retires, and backpressure
both ways: reading pauses while INBOX_HIGH messages wait for the app, `send` waits while the transport is full.
"""
import time

from .. import log
from .app_call import AppCall, ClientDisconnect
from .connection import PAUSE_BODY
from .head import date_header, error_response, status_line
from .ws_frames import (BINARY, CLOSE, PING, PONG, TEXT, FrameReader, ProtocolError, accept_key, close_payload,
                        frame, parse_close, valid_key)

ASGI_WS = {'version': '3.0', 'spec_version': '2.3'}
INBOX_HIGH = 64
CLOSE_WAIT_S = 3.0          # how long a sent close frame waits for the client's
CONNECTING, OPEN, CLOSING, CLOSED = 'connecting', 'open', 'closing', 'closed'


def start_websocket(conn, head, rest):
    """Check the upgrade request `head` on `conn` and start the app's websocket task (or answer 400/426)."""
    fields = {}
    for name, value in head.headers:
        if name[:14] == b'sec-websocket-':
            fields[name] = value if name not in fields else fields[name] + b', ' + value
    key = fields.get(b'sec-websocket-key')
    if head.method != 'GET' or head.version != '1.1' or key is None or not valid_key(key):
        return conn.reject(400, 'bad websocket upgrade request')
    if fields.get(b'sec-websocket-version', b'').strip() != b'13':
        log.log('websocket upgrade with an unsupported version: 426')
        conn.transport.write(error_response(426, extra=b'sec-websocket-version: 13\r\n'))
        return conn.close_after_write(unread=True)
    protocols = fields.get(b'sec-websocket-protocol')
    server = conn.server
    scope = {
        'type': 'websocket', 'asgi': ASGI_WS, 'http_version': '1.1', 'scheme': 'ws',
        'server': server.addresses[conn.listener], 'client': conn.client, 'root_path': '', 'path': head.path,
        'raw_path': head.raw_path, 'query_string': head.query, 'headers': head.headers,
        'subprotocols': [p.strip().decode('latin-1') for p in protocols.split(b',') if p.strip()] if protocols else [],
        'extensions': {'websocket.http.response': {}},
    }
    if server.state is not None:
        scope['state'] = server.state.copy()
    session = conn.ws = WebSocketSession(conn, scope, key, rest)
    server.start_call(session)


class WebSocketSession(AppCall):
    __slots__ = ('conn', 'server', 'scope', 'key', 'state', 'pending', 'reader', 'inbox', 'waiter', 'connected',
                 'close_code', 'close_reason', 'closed_at', 'ping_at', 'task', 'exception', 'denial', 't0', 'sent',
                 'head_len', 'status')

    def __init__(self, conn, scope, key, rest):
        self.conn = conn
        self.server = conn.server
        self.scope = scope
        self.key = key
        self.state = CONNECTING
        self.pending = rest             # bytes the client sent before the handshake completed
        self.reader = FrameReader(self.server.ws_max_size)
        self.inbox = []
        self.waiter = None
        self.connected = False          # websocket.connect given to the app
        self.close_code = None          # set once the websocket is gone, for websocket.disconnect
        self.close_reason = ''
        self.closed_at = 0.0            # when we sent our close frame
        self.ping_at = 0.0              # when our unanswered ping left
        self.task = None
        self.exception = False
        self.denial = None              # [status, headers] of a websocket.http.response
        self.t0 = 0.0
        self.sent = 0                   # for the request log: message bytes are not counted
        self.head_len = 0
        self.status = 101

    # ── the ASGI callables ───────────────────────────────────────────────────────────────────────
    async def receive(self):
        while True:
            if not self.connected:
                self.connected = True
                return {'type': 'websocket.connect'}
            if self.inbox:
                msg = self.inbox.pop(0)
                if len(self.inbox) < INBOX_HIGH // 2:
                    self.conn.resume(PAUSE_BODY)
                return msg
            if self.close_code is not None:
                return {'type': 'websocket.disconnect', 'code': self.close_code, 'reason': self.close_reason}
            w = self.waiter = self.server.loop.create_future()
            try:
                await w
            finally:
                self.waiter = None

    async def send(self, message):
        kind = message['type']
        state = self.state
        if kind == 'websocket.send':
            if state != OPEN:
                if self.close_code is not None or state == CLOSING:
                    raise ClientDisconnect('the websocket is closed')
                raise RuntimeError("ASGI 'websocket.send' before 'websocket.accept'")
            data = message.get('bytes')
            if data is None:
                text = message.get('text')
                if text is None:
                    raise RuntimeError("ASGI 'websocket.send' with neither bytes nor text")
                out = frame(TEXT, text.encode('utf-8'))
            else:
                out = frame(BINARY, bytes(data))
            self.conn.transport.write(out)
            if self.conn.write_paused:
                await self.conn.drain()
        elif kind == 'websocket.accept':
            if state != CONNECTING or self.denial is not None:
                raise RuntimeError("ASGI 'websocket.accept' in state %s" % state)
            self._accept(message)
        elif kind == 'websocket.close':
            if state == CONNECTING and self.denial is None:
                self.state = CLOSED
                self.conn.transport.write(error_response(403))
                self.conn.close_after_write(unread=True)
                self._gone(1006, '')
            elif state == OPEN:
                self._close(message.get('code') or 1000, message.get('reason') or '')
        elif kind == 'websocket.http.response.start':
            if state != CONNECTING or self.denial is not None:
                raise RuntimeError("ASGI 'websocket.http.response.start' after the handshake")
            self.denial = [message['status'], message.get('headers', ())]
        elif kind == 'websocket.http.response.body':
            self._denial_body(message)
            if self.conn.write_paused:
                await self.conn.drain()
        else:
            raise RuntimeError('ASGI message %r is not one of a websocket scope' % (kind,))

    # ── handshake and close ──────────────────────────────────────────────────────────────────────
    def _accept(self, message):
        parts = [b'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n'
                 b'sec-websocket-accept: ', accept_key(self.key), b'\r\n']
        sub = message.get('subprotocol')
        if sub:
            parts += (b'sec-websocket-protocol: ', sub.encode('latin-1'), b'\r\n')
        for name, value in message.get('headers') or ():
            if b'\n' in name or b'\n' in value or b'\r' in name or b'\r' in value:
                raise RuntimeError('a websocket.accept header contains CR or LF')
            parts += (name, b': ', value, b'\r\n')
        parts.append(b'\r\n')
        self.conn.transport.write(b''.join(parts))
        self.state = OPEN
        if self.pending:
            data, self.pending = self.pending, b''
            self.data_received(data)

    def _denial_body(self, message):
        if self.denial is None or self.state != CONNECTING:
            raise RuntimeError("ASGI 'websocket.http.response.body' without a response start")
        conn = self.conn
        if self.denial[0] is not None:
            status, headers = self.denial
            self.denial[0] = None
            fields = b''.join(b'%s: %s\r\n' % (n, v) for n, v in headers)
            if fields.count(b'\n') != fields.count(b'\r\n') or fields.count(b'\r') != fields.count(b'\r\n'):
                raise RuntimeError('a response header contains CR or LF')
            conn.transport.write(status_line(status) + fields + date_header() + b'connection: close\r\n\r\n')
        body = message.get('body', b'')
        if body:
            conn.transport.write(body)
        if not message.get('more_body', False):
            self.state = CLOSED
            conn.close_after_write(unread=True)
            self._gone(1006, '')

    def _close(self, code, reason=''):
        """Send our close frame (once); the connection closes when the client answers or after CLOSE_WAIT_S."""
        if self.state in (OPEN, CONNECTING):
            self.state = CLOSING
            self.closed_at = time.monotonic()
            self.conn.transport.write(frame(CLOSE, close_payload(code, reason)))

    def going_away(self):
        """The worker retires: ask the client to reconnect (1012, service restart)."""
        if self.state == OPEN:
            self._close(1012, 'service restart')

    def _gone(self, code, reason):
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        self.state = CLOSED
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ── from the connection ──────────────────────────────────────────────────────────────────────
    def data_received(self, data):
        if self.state == CONNECTING:
            self.pending += data
            if len(self.pending) > self.server.ws_max_size:
                self.conn.pause(PAUSE_BODY)
            return
        if self.state == CLOSED:
            return
        try:
            messages = self.reader.feed(data)
        except ProtocolError as e:
            log.log('websocket from %s failed: %s (%d)' % (self.conn.client[0] if self.conn.client else 'unix', e,
                                                           e.code))
            self._close(e.code)
            self.conn.close_after_write(unread=True)
            self._gone(e.code, str(e))
            return
        inbox = self.inbox
        for op, payload in messages:
            if op == TEXT:
                inbox.append({'type': 'websocket.receive', 'text': payload})
            elif op == BINARY:
                inbox.append({'type': 'websocket.receive', 'bytes': payload})
            elif op == PING:
                if self.state == OPEN:
                    self.conn.transport.write(frame(PONG, payload))
            elif op == PONG:
                self.ping_at = 0.0
            elif op == CLOSE:
                self._on_close_frame(payload)
                break
        if inbox:
            if len(inbox) >= INBOX_HIGH:
                self.conn.pause(PAUSE_BODY)
            w = self.waiter
            if w is not None and not w.done():
                w.set_result(None)

    def _on_close_frame(self, payload):
        try:
            code, reason = parse_close(payload)
        except ProtocolError as e:
            code, reason = e.code, str(e)
        if self.state == OPEN:
            self.conn.transport.write(frame(CLOSE, close_payload(code if code != 1005 else None)))
        self.conn.close_after_write()
        self._gone(code, reason)

    def on_connection_lost(self):
        self._gone(1006, '')

    def check(self, now):
        """The sweep: pings on a quiet connection, a missing pong, an unanswered close. False = drop it now."""
        if self.state == CLOSING:
            return now - self.closed_at < CLOSE_WAIT_S
        if self.state != OPEN:
            return True
        freq = self.server.ws_ping_freq
        if self.ping_at:
            if now - self.ping_at > self.server.ws_pong_tolerance:
                log.log('websocket from %s: no pong within %g s, closing' % (
                    self.conn.client[0] if self.conn.client else 'unix', self.server.ws_pong_tolerance))
                return False
        elif freq and now - self.conn.last >= freq:
            self.ping_at = now
            self.conn.transport.write(frame(PING, b'kaiser'))
        return True

    # ── running the app ──────────────────────────────────────────────────────────────────────────
    # run (app_call.py)
    def _cancelled(self):
        pass

    def _what(self):
        return 'websocket %s' % self.scope['path']

    def _ended(self):
        if self.state == CONNECTING:
            if self.denial is None:
                if not self.exception:
                    log.log('ASGI app returned without accepting or closing the websocket %s: 500' % self.scope['path'])
                self.conn.transport.write(error_response(500))
            self.state = CLOSED
            self.conn.close_after_write(unread=True)
        elif self.state == OPEN:
            self._close(1011 if self.exception else 1000)
        self.server.call_ended(self)
