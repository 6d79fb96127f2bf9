"""cgi_head: a CGI (or php-cgi) response's header block, read as uWSGI reads it."""
import unittest

import support  # noqa: F401
from _kaiser import cgi_head


class Head(unittest.TestCase):
    def test_the_end_of_the_header_block_with_any_line_ending(self):
        self.assertEqual(cgi_head.head_end(b'A: b\r\n\r\nbody'), (4, 8))
        self.assertEqual(cgi_head.head_end(b'A: b\n\nbody'), (4, 6))
        self.assertIsNone(cgi_head.head_end(b'A: b\r\n'))

    def test_status_location_and_headers(self):
        self.assertEqual(cgi_head.parse_head(b'Status: 404\r\nX-A: 1'), ('404 Not Found', [('X-A', '1')]))
        self.assertEqual(cgi_head.parse_head(b'Location: /x'), ('302 Found', [('Location', '/x')]))
        self.assertEqual(cgi_head.parse_head(b'Content-Type: text/plain')[0], '200 OK')

    def test_reason_phrases(self):
        self.assertEqual(cgi_head.with_reason('418'), "418 I'm a teapot")
        self.assertEqual(cgi_head.with_reason('299'), '299 Unknown')
        self.assertEqual(cgi_head.with_reason('200 Fine'), '200 Fine')


if __name__ == '__main__':
    unittest.main()
