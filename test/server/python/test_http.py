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


class Strict(unittest.TestCase):
    """Issue 14: what a front proxy and kaiser could read differently is refused or dropped."""

    def framing(self, head):
        proto, env = parse(head)
        return http.body_framing(env, proto)

    def test_a_header_name_with_an_underscore_is_dropped_never_taken_as_content_length(self):
        proto, env = parse(b'POST / HTTP/1.1\r\nContent_Length: 5\r\nTransfer_Encoding: chunked')
        self.assertNotIn('CONTENT_LENGTH', env)
        self.assertNotIn('HTTP_TRANSFER_ENCODING', env)
        self.assertIsNone(http.body_framing(env, proto))

    def test_an_underscore_header_cannot_spoof_the_real_one_in_the_environ(self):
        for order in ((b'X_Forwarded_For: 6.6.6.6', b'X-Forwarded-For: 1.2.3.4'),
                      (b'X-Forwarded-For: 1.2.3.4', b'X_Forwarded_For: 6.6.6.6')):
            with self.subTest(order=order):
                _, env = parse(b'GET / HTTP/1.1\r\n' + b'\r\n'.join(order))
                self.assertEqual(env['HTTP_X_FORWARDED_FOR'], '1.2.3.4')
        _, env = parse(b'GET / HTTP/1.1\r\nX_Real_Ip: 6.6.6.6')
        self.assertNotIn('HTTP_X_REAL_IP', env)

    def test_content_length_is_digits_only(self):
        self.assertEqual(self.framing(b'POST / HTTP/1.1\r\nContent-Length: 12'), 12)
        self.assertIsNone(self.framing(b'POST / HTTP/1.1\r\nContent-Length: 0'))
        for value in (b'+5', b'-5', b'0_5', b'0x5', b'5 5', b'5,5', b'1e3', b'5.0', b'\xb2', b'', b'9' * 19):
            with self.subTest(value=value):
                with self.assertRaises(http.BadRequest):
                    self.framing(b'POST / HTTP/1.1\r\nContent-Length: ' + value)

    def test_a_repeated_content_length_is_refused_even_when_equal(self):
        for second in (b'0', b'5'):
            with self.subTest(second=second):
                with self.assertRaises(http.BadRequest):
                    parse(b'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: ' + second)

    def test_transfer_encoding_is_chunked_alone_once_and_on_http_11_only(self):
        self.assertIs(self.framing(b'POST / HTTP/1.1\r\nTransfer-Encoding: Chunked'), http.CHUNKED)
        for head in (b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3',
                     b'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked',
                     b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
                     b'POST / HTTP/1.0\r\nTransfer-Encoding: chunked'):
            with self.subTest(head=head):
                with self.assertRaises(http.BadRequest):
                    self.framing(head)

    def test_control_characters_in_the_head_are_refused(self):
        for head in (b'GET /a\x00b HTTP/1.1', b'GET /a\x7f HTTP/1.1', b'GET /\ta HTTP/1.1',
                     b'GET / HTTP/1.1\r\nX: a\x01b', b'GET / HTTP/1.1\r\nX: a\rb', b'GET / HTTP/1.1\r\nX: a\nb',
                     b'GET / HTTP/1.1\r\nX: a\x1bb', b'GET / HTTP/1.1\r\nX\x00: a'):
            with self.subTest(head=head):
                with self.assertRaises(http.BadRequest):
                    parse(head)

    def test_htab_and_latin1_text_in_values_are_fine(self):
        _, env = parse(b'GET / HTTP/1.1\r\nX-Note: a\tb \xe9')
        self.assertEqual(env['HTTP_X_NOTE'], 'a\tb \xe9')

    def test_header_names_are_tokens_and_the_protocol_is_http_1_digit(self):
        for head in (b'GET / HTTP/1.1\r\nX(Y): 1', b'GET / HTTP/1.1\r\n\xc4: 1', b'GET / HTTP/1.1\r\nX"Y: 1',
                     b'GET / HTTP/1.x', b'GET / HTTP/1.10', b'GET / http/1.1'):
            with self.subTest(head=head):
                with self.assertRaises(http.BadRequest):
                    parse(head)
