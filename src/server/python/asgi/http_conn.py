"""An HTTP/1.1 client connection of the ASGI server: request heads into `http` scopes, keep-alive and pipelining.

Owns: finding each request head in what arrived (empty lines before a request are skipped, RFC 9112 §2.2),
431 past `buffer-size`, 400 for a malformed head, 413 for a Content-Length over `limit-post`, the scope of an
`http` request, its body decoder, holding a pipelined request until the current response is complete (reading
pauses past PIPELINE_MAX), and handing a websocket upgrade to ws_session.py.
"""
import time

from .body import ChunkedBody, LengthBody
from .connection import PAUSE_PIPELINE, Connection
from .head import HttpError, parse_head
from .http_cycle import HttpCycle

ASGI_HTTP = {'version': '3.0', 'spec_version': '2.4'}
PIPELINE_MAX = 64 * 1024


class HttpConnection(Connection):
    __slots__ = ()

    def data_received(self, data):
        self.last = time.monotonic()
        if self.ws is not None:
            self.ws.data_received(data)
            return
        if self.body is not None:
            data = self.feed(data)
            if not data:
                return
        if self.cycle is not None:
            buf = self.buf = self.buf + data
            if len(buf) > PIPELINE_MAX:
                self.pause(PAUSE_PIPELINE)
            return
        self.buf = self.buf + data if self.buf else data
        self.next_request()

    def next_request(self):
        buf = self.buf
        while buf[:2] == b'\r\n':
            buf = buf[2:]
        end = buf.find(b'\r\n\r\n')
        limit = self.server.buffer_size
        if end < 0:
            self.buf = buf
            if not buf:
                self.head_since = 0.0
            elif len(buf) > limit:
                self.reject(431, 'request head over buffer-size (%d bytes)' % limit)
            elif not self.head_since:
                self.head_since = self.last
            return
        if end + 4 > limit:
            return self.reject(431, 'request head over buffer-size (%d bytes)' % limit)
        try:
            head = parse_head(buf, end)
        except HttpError as e:
            return self.reject(e.status, str(e))
        self.buf = b''
        self.head_since = 0.0
        server = self.server
        rest = buf[end + 4:]
        if head.upgrade == b'websocket':
            from .ws_session import start_websocket
            return start_websocket(self, head, rest)
        length = head.length
        if length is not None and server.limit_post and length > server.limit_post:
            return self.reject(413, 'Content-Length %d over limit-post (%d bytes)' % (length, server.limit_post))
        more = head.chunked or bool(length)
        scope = {
            'type': 'http', 'asgi': ASGI_HTTP, 'http_version': head.version, 'server': server.addresses[self.listener],
            'client': self.client, 'scheme': 'http', 'method': head.method, 'root_path': '', 'path': head.path,
            'raw_path': head.raw_path, 'query_string': head.query, 'headers': head.headers,
        }
        if server.state is not None:
            scope['state'] = server.state.copy()
        cycle = self.cycle = HttpCycle(self, scope, head.keep_alive, more, head.expect_continue)
        if more:
            self.body = ChunkedBody() if head.chunked else LengthBody(length)
            self.body_read = 0
            if rest:
                rest = self.feed(rest)
                if rest is None:
                    return
        if rest:
            self.buf = rest
            if len(rest) > PIPELINE_MAX:
                self.pause(PAUSE_PIPELINE)
        server.start_call(cycle)
