"""asgi/uwsgi_conn.py: uwsgi packets (nginx uwsgi_pass) into http scopes, one response per connection."""
import unittest

import asgi_support  # noqa: F401
from asgi_support import FakeServer, LoopTest, connect, settle
from _kaiser import uwsgi_proto
from _kaiser.asgi.uwsgi_conn import UwsgiConnection

VARS = {'REQUEST_METHOD': 'POST', 'REQUEST_URI': '/app/p%20q?x=1', 'PATH_INFO': '/app/p q', 'QUERY_STRING': 'x=1',
        'SCRIPT_NAME': '/app', 'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '10.0.0.9', 'REMOTE_PORT': '5555',
        'SERVER_NAME': 'example.test', 'SERVER_PORT': '443', 'HTTPS': 'on', 'HTTP_HOST': 'example.test',
        'HTTP_X_FORWARDED_FOR': '1.2.3.4', 'CONTENT_TYPE': 'text/plain', 'CONTENT_LENGTH': '4'}


class Uwsgi(LoopTest):
    def test_vars_become_the_scope_and_the_response_goes_out_as_framed_then_close(self):
        seen = {}

        async def app(scope, receive, send):
            seen['scope'] = scope
            seen['body'] = (await receive())['body']
            await send({'type': 'http.response.start', 'status': 201, 'headers': [(b'x-a', b'1')]})
            await send({'type': 'http.response.body', 'body': b'made', 'more_body': True})
            await send({'type': 'http.response.body', 'body': b'!'})
        server = FakeServer(app, self.loop)
        conn, t = connect(UwsgiConnection, server)
        packet = uwsgi_proto.build(VARS)
        conn.data_received(packet[:10])
        conn.data_received(packet[10:] + b'da')
        conn.data_received(b'ta')
        settle(self.loop)
        scope = seen['scope']
        self.assertEqual((scope['method'], scope['path'], scope['raw_path'], scope['query_string'], scope['root_path']),
                         ('POST', '/app/p q', b'/app/p%20q', b'x=1', '/app'))
        self.assertEqual((scope['scheme'], scope['client'], scope['server'], scope['http_version']),
                         ('https', ('10.0.0.9', 5555), ('example.test', 443), '1.1'))
        self.assertIn((b'x-forwarded-for', b'1.2.3.4'), scope['headers'])
        self.assertIn((b'content-type', b'text/plain'), scope['headers'])
        self.assertEqual(seen['body'], b'data')
        self.assertEqual(t.take(), b'HTTP/1.1 201 Created\r\nx-a: 1\r\n\r\nmade!')
        self.assertTrue(t.closed)

    def test_oversized_and_broken_packets(self):
        server = FakeServer(None, self.loop)
        conn, t = connect(UwsgiConnection, server)
        conn.data_received(b'\x00\xff\xff\x00')
        self.assertTrue(t.take().startswith(b'HTTP/1.1 431 '))
        conn, t = connect(UwsgiConnection, server)
        conn.data_received(b'\x00\x05\x00\x00\x09\x00abc')
        self.assertTrue(t.take().startswith(b'HTTP/1.1 400 '))
        self.assertEqual(server.started, [])


if __name__ == '__main__':
    unittest.main()
