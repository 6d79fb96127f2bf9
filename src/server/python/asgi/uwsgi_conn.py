"""A uwsgi-protocol connection of the ASGI server (nginx `uwsgi_pass`): one request per connection.

Owns: reading the uwsgi packet (4-byte header and vars, bounded by `buffer-size`), turning its CGI-style vars
into an `http` scope (HTTP_* vars become headers, CONTENT_TYPE and CONTENT_LENGTH too, SCRIPT_NAME the root
path, UWSGI_SCHEME or HTTPS the scheme), the body by CONTENT_LENGTH. The response goes out as the app framed
it (status line, headers, body: nginx parses it), and the connection closes after it, as on the WSGI side.
Websockets are not carried over uwsgi (nginx cannot pass an upgrade through uwsgi_pass).
"""
import time

from .. import uwsgi_proto
from .body import LengthBody
from .connection import Connection
from .http_conn import ASGI_HTTP
from .http_cycle import HttpCycle


class UwsgiConnection(Connection):
    __slots__ = ()

    def data_received(self, data):
        self.last = time.monotonic()
        if self.body is not None:
            self.feed(data)
            return
        if self.cycle is not None or self.closing:
            return
        buf = self.buf = self.buf + data if self.buf else data
        if not self.head_since:
            self.head_since = self.last
        need = uwsgi_proto.need(buf)
        if need < 0:
            return
        limit = self.server.buffer_size
        if need - 4 > limit:
            return self.reject(431, 'uwsgi packet of %d bytes over buffer-size (%d)' % (need - 4, limit))
        if len(buf) < need:
            return
        try:
            env = uwsgi_proto.parse_vars(buf, need)
        except uwsgi_proto.PacketError as e:
            return self.reject(400, 'invalid uwsgi packet: %s' % e)
        self.buf = b''
        self.head_since = 0.0
        try:
            length = int(env.get('CONTENT_LENGTH') or 0)
        except ValueError:
            return self.reject(400, 'bad CONTENT_LENGTH %r' % env.get('CONTENT_LENGTH'))
        server = self.server
        if server.limit_post and length > server.limit_post:
            return self.reject(413, 'CONTENT_LENGTH %d over limit-post (%d bytes)' % (length, server.limit_post))
        cycle = self.cycle = HttpCycle(self, scope_of(env, self, server), False, length > 0, False, raw=True)
        rest = buf[need:]
        if length > 0:
            self.body = LengthBody(length)
            self.body_read = 0
            if rest and self.feed(rest) is None:
                return
        server.start_call(cycle)

    def next_request(self):
        self.close_after_write()


def scope_of(env, conn, server):
    """The `http` scope of a uwsgi request's vars (str values, latin-1 as parsed)."""
    headers = []
    for key, value in env.items():
        if key[:5] == 'HTTP_':
            if key in ('HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH'):
                continue
            headers.append((key[5:].lower().replace('_', '-').encode('latin-1'), value.encode('latin-1')))
        elif key in ('CONTENT_TYPE', 'CONTENT_LENGTH') and value:
            headers.append((key.lower().replace('_', '-').encode('latin-1'), value.encode('latin-1')))
    uri = env.get('REQUEST_URI') or ''
    path = env.get('PATH_INFO')
    raw_path = uri.split('?', 1)[0].encode('latin-1')
    if path is None:
        from urllib.parse import unquote_to_bytes
        path = unquote_to_bytes(raw_path).decode('utf-8', 'replace')
    else:
        path = path.encode('latin-1').decode('utf-8', 'replace')
    proto = env.get('SERVER_PROTOCOL') or 'HTTP/1.0'
    scheme = env.get('UWSGI_SCHEME') or ('https' if env.get('HTTPS', '').lower() in ('on', '1') else 'http')
    client = conn.client
    if env.get('REMOTE_ADDR'):
        try:
            client = (env['REMOTE_ADDR'], int(env.get('REMOTE_PORT') or 0))
        except ValueError:
            client = (env['REMOTE_ADDR'], 0)
    srv = server.addresses[conn.listener]
    if env.get('SERVER_NAME'):
        try:
            srv = (env['SERVER_NAME'], int(env.get('SERVER_PORT') or 0) or None)
        except ValueError:
            pass
    scope = {
        'type': 'http', 'asgi': ASGI_HTTP, 'http_version': proto[5:] if proto.startswith('HTTP/') else '1.0',
        'server': srv, 'client': client, 'scheme': scheme, 'method': env.get('REQUEST_METHOD') or 'GET',
        'root_path': env.get('SCRIPT_NAME') or '', 'path': path, 'raw_path': raw_path or path.encode('utf-8'),
        'query_string': (env.get('QUERY_STRING') or '').encode('latin-1'), 'headers': headers,
    }
    if server.state is not None:
        scope['state'] = server.state.copy()
    return scope
