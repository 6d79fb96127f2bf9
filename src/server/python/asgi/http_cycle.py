"""One HTTP request as the ASGI app sees it: the `receive` and `send` callables of an `http` scope, and running it.

Owns: request body delivery (`http.request` with `more_body`, backpressure on the connection while the app
has not taken what arrived, `100 Continue` on the first read), `http.disconnect` (on a closed connection, and
once the response is complete), response framing (the head is held until the first body message so head and
a small body leave in one write; Content-Length when the whole body is known, chunked for an HTTP/1.1 stream,
close-delimited for HTTP/1.0, never a body for HEAD, 1xx, 204 and 304), write backpressure (`send` waits while
the transport is over its high-water mark), and what an app that fails earns: 500 before the response
started, a closed connection after; 504 when harakiri cancelled it. A `send` on a closed connection raises
ClientDisconnect, an OSError (ASGI spec 2.4), so a streaming app stops instead of spinning.
"""

from .. import log
from .app_call import AppCall, ClientDisconnect
from .head import NO_BODY_STATUS, date_header, error_response, status_line

BODY_HIGH = 256 * 1024     # queued request body bytes above which the connection stops reading
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'
LAST_CHUNK = b'0\r\n\r\n'


class HttpCycle(AppCall):
    __slots__ = ('conn', 'server', 'scope', 'head_only', 'keep_alive', 'raw', 'version', 'body', 'body_len',
                 'more_body', 'body_given', 'body_paused', 'waiter', 'expect_continue', 'status', 'headers',
                 'started', 'complete', 'chunked', 'no_body', 'declared', 'sent', 'disconnected', 't0', 'task',
                 'harakiri', 'exception', 'head_len')

    def __init__(self, conn, scope, keep_alive, more_body, expect_continue, raw=False):
        self.conn = conn
        self.server = conn.server
        self.scope = scope
        self.head_only = scope['method'] == 'HEAD'
        self.keep_alive = keep_alive
        self.raw = raw                  # uwsgi protocol: the response as the app framed it, then close
        self.version = scope['http_version']
        self.body = []
        self.body_len = 0
        self.more_body = more_body      # request body bytes still to come from the client
        self.body_given = False
        self.body_paused = False
        self.waiter = None
        self.expect_continue = expect_continue and more_body
        self.status = None
        self.headers = None
        self.started = False
        self.complete = False
        self.chunked = False
        self.no_body = False
        self.declared = -1              # Content-Length the app declared, -1 for none
        self.sent = 0
        self.disconnected = False
        self.t0 = 0.0
        self.task = None
        self.harakiri = False
        self.exception = False
        self.head_len = 0

    # ── from the connection ──────────────────────────────────────────────────────────────────────
    def feed_body(self, data, finished):
        if data:
            self.body.append(data)
            self.body_len += len(data)
            if self.body_len > BODY_HIGH and not self.body_paused:
                self.body_paused = True
                self.conn.pause_body()
        if finished:
            self.more_body = False
        self._wake()

    def on_disconnect(self):
        if not self.disconnected:
            self.disconnected = True
            self._wake()

    def _wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ── the ASGI callables ───────────────────────────────────────────────────────────────────────
    async def receive(self):
        while True:
            if self.disconnected or self.complete:
                return {'type': 'http.disconnect'}
            if self.body:
                return self._body_message()
            if not self.more_body:
                if not self.body_given:
                    self.body_given = True
                    return {'type': 'http.request', 'body': b'', 'more_body': False}
            elif self.expect_continue:
                self.expect_continue = False
                self.conn.transport.write(CONTINUE)
            w = self.waiter = self.server.loop.create_future()
            try:
                await w
            finally:
                self.waiter = None

    def _body_message(self):
        body = self.body
        data = body[0] if len(body) == 1 else b''.join(body)
        self.body = []
        self.body_len = 0
        if self.body_paused:
            self.body_paused = False
            self.conn.resume_body()
        if not self.more_body:
            self.body_given = True
        return {'type': 'http.request', 'body': data, 'more_body': self.more_body}

    async def send(self, message):
        kind = message['type']
        if kind == 'http.response.body':
            if self.status is None:
                raise RuntimeError("ASGI 'http.response.body' sent before 'http.response.start'")
            if self.complete:
                raise RuntimeError("ASGI 'http.response.body' sent after the response was complete")
            if self.disconnected:
                raise ClientDisconnect('the client closed the connection')
            body = message.get('body', b'')
            more = message.get('more_body', False)
            if not self.started:
                self._write_head(body, more)
            elif self.no_body:
                pass
            elif more:
                if body:
                    self._write_body(body)
            elif self.chunked:
                if body:
                    self._count(len(body))
                    self.conn.transport.write(b'%x\r\n%s\r\n0\r\n\r\n' % (len(body), body))
                else:
                    self.conn.transport.write(LAST_CHUNK)
            elif body:
                self._write_body(body)
            if not more:
                self._finish()
            if self.conn.write_paused and not self.disconnected:
                await self.conn.drain()
            return
        if kind == 'http.response.start':
            if self.status is not None:
                raise RuntimeError("ASGI 'http.response.start' sent twice")
            status = message['status']
            if type(status) is not int:
                status = int(status)
            status_line(status)
            self.status = status
            self.headers = message.get('headers', ())
            return
        raise RuntimeError('ASGI message %r is not one of an http scope' % (kind,))

    # ── writing the response ─────────────────────────────────────────────────────────────────────
    def _write_head(self, body, more):
        status = self.status
        parts = []
        length = None
        app_chunked = False
        has_date = False
        n = 0
        for name, value in self.headers:
            parts += (name, b': ', value, b'\r\n')
            n += 1
            lname = name.lower()
            if lname == b'content-length':
                length = value
            elif lname == b'transfer-encoding':
                app_chunked = True
            elif lname == b'connection':
                if b'close' in value.lower():
                    self.keep_alive = False
            elif lname == b'date':
                has_date = True
        fields = b''.join(parts)
        if fields.count(b'\n') != n or fields.count(b'\r') != n:
            raise RuntimeError('a response header name or value contains CR or LF')
        self.started = True
        no_body = self.no_body = self.head_only or status in NO_BODY_STATUS or status < 200
        if self.raw:
            head = b'HTTP/%s %s' % (self.version.encode(), status_line(status)[9:])
            out = head + fields + b'\r\n'
            self.head_len = len(out)
            self.conn.transport.write(out + body if body and not no_body else out)
            self.sent = 0 if no_body else len(body)
            return
        extra = b'' if has_date else date_header()
        if length is not None:
            try:
                self.declared = int(length)
            except ValueError:
                raise RuntimeError('invalid Content-Length %r in the response' % (length,))
        elif no_body:
            pass
        elif app_chunked:
            self.chunked = True
        elif not more:
            extra += b'content-length: %d\r\n' % len(body)
        elif self.version == '1.1':
            extra += b'transfer-encoding: chunked\r\n'
            self.chunked = True
        else:
            self.keep_alive = False     # an HTTP/1.0 stream ends when the connection does
        if self.keep_alive and not self.server.stopping:
            if self.version == '1.0':
                extra += b'connection: keep-alive\r\n'
        else:
            self.keep_alive = False
            if self.version == '1.1':
                extra += b'connection: close\r\n'
        head = status_line(status) + fields + extra + b'\r\n'
        self.head_len = len(head)
        if no_body or not body:
            out = head + LAST_CHUNK if self.chunked and not more else head
        elif self.chunked:
            out = b'%s%x\r\n%s\r\n%s' % (head, len(body), body, b'' if more else LAST_CHUNK)
        else:
            out = head + body
        if not no_body:
            self._count(len(body))
        self.conn.transport.write(out)

    def _write_body(self, body):
        self._count(len(body))
        if self.chunked:
            self.conn.transport.write(b'%x\r\n%s\r\n' % (len(body), body))
        else:
            self.conn.transport.write(body)

    def _count(self, n):
        self.sent += n
        if self.declared >= 0 and self.sent > self.declared:
            self.keep_alive = False
            raise RuntimeError('response body longer than its Content-Length (%d)' % self.declared)

    def _finish(self):
        self.complete = True
        if self.declared >= 0 and self.sent < self.declared and not self.no_body:
            self.keep_alive = False
            log.log('ASGI response shorter than its Content-Length (%d of %d bytes): connection closed' % (
                self.sent, self.declared))
        self.conn.response_done(self)
        self._wake()

    # ── running the app ──────────────────────────────────────────────────────────────────────────
    # run (app_call.py)
    def _cancelled(self):
        if not self.harakiri:
            self.exception = True

    def _what(self):
        return '%s %s' % (self.scope['method'], self.scope['path'])

    def _ended(self):
        if not self.complete:
            if not self.started:
                if not self.exception and not self.harakiri and not self.disconnected:
                    log.log('ASGI app returned without a response (%s %s): 500' % (self.scope['method'],
                                                                                   self.scope['path']))
                    self.exception = True
                self.status = 504 if self.harakiri else 500
                self.started = self.complete = True
                self.keep_alive = False
                if not self.disconnected:
                    out = error_response(self.status)
                    self.head_len = len(out)
                    self.conn.transport.write(out)
                self.conn.response_done(self)
            else:
                # a response cut short: only closing the connection tells the client it is incomplete
                self.complete = True
                self.keep_alive = False
                self.conn.response_done(self)
        self.server.call_ended(self)
