"""http: request heads into the environ, response heads out."""
import unittest

import support  # noqa: F401
from _kaiser import http


def parse(head):
    """parse_head over `head` (without its blank line) -> (protocol, env)."""
    buf = head + b'\r\n\r\n'
    env = {}
    proto = http.parse_head(buf, buf.find(b'\r\n\r\n'), env)
    return proto, env


class RequestLine(unittest.TestCase):
    def test_method_uri_protocol_path_and_query(self):
        proto, env = parse(b'GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: h')
        self.assertEqual(proto, 'HTTP/1.1')
        self.assertEqual(env['REQUEST_METHOD'], 'GET')
        self.assertEqual(env['REQUEST_URI'], '/a%20b/c?x=1&y=%20')
        self.assertEqual(env['PATH_INFO'], '/a b/c')
        self.assertEqual(env['QUERY_STRING'], 'x=1&y=%20')
        self.assertEqual(env['SERVER_PROTOCOL'], 'HTTP/1.1')

    def test_absolute_form_and_asterisk(self):
        self.assertEqual(parse(b'GET http://example.test/p?q HTTP/1.1')[1]['PATH_INFO'], '/p')
        self.assertEqual(parse(b'GET https://example.test HTTP/1.1')[1]['PATH_INFO'], '/')
        self.assertEqual(parse(b'OPTIONS * HTTP/1.1')[1]['PATH_INFO'], '*')

    def test_malformed_request_lines_are_bad_requests(self):
        for line in (b'GET / HTTP/2.0', b'GET /', b'GET  / HTTP/1.1', b'G@T / HTTP/1.1', b'GET x HTTP/1.1',
                     b' / HTTP/1.1', b'GET / HTTP/1.1 extra', b'garbage'):
            with self.subTest(line=line):
                with self.assertRaises(http.BadRequest):
                    parse(line)

    def test_percent_decoding_is_latin1_and_leaves_bad_escapes(self):
        self.assertEqual(http.unquote('/%C3%A9'), '/\xc3\xa9')
        self.assertEqual(http.unquote('/100%'), '/100%')
        self.assertEqual(http.unquote('/%zz'), '/%zz')


class Headers(unittest.TestCase):
    def test_header_names_become_cgi_keys(self):
        _, env = parse(b'POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-Forwarded-For: 1.2.3.4')
        self.assertEqual(env['CONTENT_TYPE'], 'text/plain')
        self.assertEqual(env['CONTENT_LENGTH'], '3')
        self.assertEqual(env['HTTP_X_FORWARDED_FOR'], '1.2.3.4')

    def test_values_are_trimmed_and_repeated_headers_joined(self):
        _, env = parse(b'GET / HTTP/1.1\r\nAccept:  a  \r\nAccept: b\r\nCookie: x=1\r\nCookie: y=2')
        self.assertEqual(env['HTTP_ACCEPT'], 'a,b')
        self.assertEqual(env['HTTP_COOKIE'], 'x=1;y=2')

    def test_a_header_line_without_a_colon_or_with_a_space_in_the_name_is_bad(self):
        for line in (b'NoColon', b': empty name', b'Bad Name: x', b'Bad\tName: x'):
            with self.subTest(line=line):
                with self.assertRaises(http.BadRequest):
                    parse(b'GET / HTTP/1.1\r\n' + line)


class Responses(unittest.TestCase):
    def test_response_head_layout(self):
        head = http.response_head('HTTP/1.1', '200 OK', [('Content-Type', 'text/plain')], 'Content-Length: 2\r\n')
        self.assertEqual(head, b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n')

    def test_chunk_framing(self):
        self.assertEqual(http.chunk(b'hello world!!!!!'), b'10\r\nhello world!!!!!\r\n')
        self.assertEqual(http.LAST_CHUNK, b'0\r\n\r\n')


if __name__ == '__main__':
    unittest.main()
