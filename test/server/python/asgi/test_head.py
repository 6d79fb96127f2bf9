"""asgi/head.py: strict request heads, status lines, the date header, the server's own error responses."""
import re
import unittest

import asgi_support  # noqa: F401
from _kaiser.asgi import head as head_mod
from _kaiser.asgi.head import HttpError, parse_head


def parse(text):
    buf = text + b'\r\n\r\n'
    return parse_head(buf, buf.find(b'\r\n\r\n'))


def status_of(text):
    with unittest.TestCase().assertRaises(HttpError) as cm:
        parse(text)
    return cm.exception.status


class RequestLine(unittest.TestCase):
    def test_origin_form_with_query_and_percent_escapes(self):
        h = parse(b'GET /a%20b/%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: h')
        self.assertEqual((h.method, h.version), ('GET', '1.1'))
        self.assertEqual(h.path, '/a b/\u00e9')
        self.assertEqual(h.raw_path, b'/a%20b/%C3%A9')
        self.assertEqual(h.query, b'x=1&y=%20')
        self.assertEqual(h.headers, [(b'host', b'h')])
        self.assertTrue(h.keep_alive)

    def test_absolute_form_and_asterisk(self):
        self.assertEqual(parse(b'GET http://example.test/p?q HTTP/1.1\r\nHost: x').path, '/p')
        self.assertEqual(parse(b'GET https://example.test HTTP/1.1\r\nHost: x').path, '/')
        self.assertEqual(parse(b'OPTIONS * HTTP/1.1\r\nHost: x').path, '*')

    def test_unusual_but_valid_methods_are_tokens(self):
        self.assertEqual(parse(b'M-SEARCH / HTTP/1.1\r\nHost: x').method, 'M-SEARCH')

    def test_malformed_request_lines_get_400_and_other_versions_505(self):
        for line in (b'GET /', b'GET  / HTTP/1.1', b'G@T / HTTP/1.1', b'GET x HTTP/1.1', b' / HTTP/1.1',
                     b'GET / HTTP/1.1 extra', b'garbage', b'GET /\xff HTTP/1.1'):
            with self.subTest(line=line):
                self.assertEqual(status_of(line + b'\r\nHost: x'), 400)
        self.assertEqual(status_of(b'GET / HTTP/2.0\r\nHost: x'), 505)


class Fields(unittest.TestCase):
    def test_names_are_lowercased_values_trimmed_order_and_repeats_kept(self):
        h = parse(b'GET / HTTP/1.1\r\nHost: h\r\nX-A:  1 \r\nx-a: 2\r\nCookie: c=1')
        self.assertEqual(h.headers, [(b'host', b'h'), (b'x-a', b'1'), (b'x-a', b'2'), (b'cookie', b'c=1')])

    def test_control_characters_bare_cr_lf_obs_fold_and_bad_names_get_400(self):
        for head in (b'GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b', b'GET / HTTP/1.1\r\nHost: h\r\nX: a\rb',
                     b'GET / HTTP/1.1\r\nHost: h\nX: 1', b'GET / HTTP/1.1\r\nHost: h\r\n folded',
                     b'GET / HTTP/1.1\r\nHost: h\r\nBad Name: 1', b'GET / HTTP/1.1\r\nHost: h\r\n: empty',
                     b'GET / HTTP/1.1\r\nHost: h\r\nno-colon', b'GET / HTTP/1.1\r\nHost: h\r\nX: \x7f'):
            with self.subTest(head=head):
                self.assertEqual(status_of(head), 400)

    def test_obs_text_in_values_is_allowed(self):
        self.assertEqual(parse(b'GET / HTTP/1.1\r\nHost: h\r\nX: caf\xe9').headers[1], (b'x', b'caf\xe9'))


class Framing(unittest.TestCase):
    def test_content_length_and_chunked(self):
        self.assertEqual(parse(b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12').length, 12)
        self.assertTrue(parse(b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked').chunked)

    def test_smuggling_shapes_get_400(self):
        for fields in (b'Content-Length: 5\r\nContent-Length: 5', b'Content-Length: +5', b'Content-Length: 0x5',
                       b'Content-Length: 5_0', b'Content-Length: -1', b'Content-Length: 1 2',
                       b'Content-Length: 5\r\nTransfer-Encoding: chunked', b'Transfer-Encoding: gzip, chunked',
                       b'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
                       b'Content_Length: 5\r\nTransfer_Encoding: chunked'):
            with self.subTest(fields=fields):
                if fields.startswith(b'Content_'):
                    h = parse(b'POST / HTTP/1.1\r\nHost: h\r\n' + fields)
                    self.assertEqual((h.length, h.chunked), (None, False))   # underscores are other headers
                else:
                    self.assertEqual(status_of(b'POST / HTTP/1.1\r\nHost: h\r\n' + fields), 400)

    def test_chunked_on_http_1_0_is_refused(self):
        self.assertEqual(status_of(b'POST / HTTP/1.0\r\nTransfer-Encoding: chunked'), 400)

    def test_http_1_1_needs_exactly_one_host(self):
        self.assertEqual(status_of(b'GET / HTTP/1.1'), 400)
        self.assertEqual(status_of(b'GET / HTTP/1.1\r\nHost: a\r\nHost: b'), 400)
        self.assertEqual(parse(b'GET / HTTP/1.0').headers, [])

    def test_keep_alive_rules_of_1_0_and_1_1(self):
        self.assertFalse(parse(b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close').keep_alive)
        self.assertTrue(parse(b'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive').keep_alive)
        self.assertFalse(parse(b'GET / HTTP/1.0').keep_alive)
        self.assertTrue(parse(b'GET / HTTP/1.0\r\nConnection: Keep-Alive').keep_alive)

    def test_upgrade_needs_the_connection_token_and_expect_continue_is_seen(self):
        h = parse(b'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket')
        self.assertEqual(h.upgrade, b'websocket')
        self.assertIsNone(parse(b'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket').upgrade)
        self.assertTrue(parse(b'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue').expect_continue)


class ChunkSize(unittest.TestCase):
    def test_hex_digits_with_extensions(self):
        self.assertEqual(head_mod.chunk_size(b'1a'), 26)
        self.assertEqual(head_mod.chunk_size(b'A;name=value'), 10)

    def test_anything_else_is_400(self):
        for line in (b'0x5', b'+5', b'5_0', b'', b' 5', b'g', b'1' * 16):
            with self.subTest(line=line):
                with self.assertRaises(HttpError):
                    head_mod.chunk_size(line)


class Responses(unittest.TestCase):
    def test_status_lines_carry_the_reason_phrase(self):
        self.assertEqual(head_mod.status_line(200), b'HTTP/1.1 200 OK\r\n')
        self.assertEqual(head_mod.status_line(599), b'HTTP/1.1 599 \r\n')
        for bad in (99, 1000, '200', None):
            with self.assertRaises(RuntimeError):
                head_mod.status_line(bad)

    def test_date_is_an_imf_fixdate(self):
        self.assertRegex(head_mod.date_header().decode(),
                         r'^date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n$')

    def test_error_responses_are_complete_and_close(self):
        r = head_mod.error_response(431)
        self.assertTrue(r.startswith(b'HTTP/1.1 431 Request Header Fields Too Large\r\n'))
        body = r.split(b'\r\n\r\n', 1)[1]
        self.assertIn(b'content-length: %d\r\n' % len(body), r)
        self.assertIn(b'connection: close\r\n', r)
        self.assertTrue(re.search(rb'\r\n\r\nRequest Header Fields Too Large$', r))


if __name__ == '__main__':
    unittest.main()
