"""cgi_app: the CGI bridge as a forked worker's app, through a real request core (uWSGI cgi plugin semantics)."""
import os
import unittest

import support
from support import CoreHarness
from _kaiser import cgi_app

CGI_DIR = os.path.join(support.ROOT, 'test', 'fixtures', 'plugins', 'cgi')


def dechunk(data):
    """The body of a chunked response (the script's output arrives in as many chunks as reads saw)."""
    out = []
    while True:
        size, _, data = data.partition(b'\r\n')
        n = int(size, 16)
        if n == 0:
            return b''.join(out)
        out.append(data[:n])
        data = data[n + 2:]


def cgi(test, **cfg):
    return CoreHarness(test, cgi_app.CgiApp(support.make_config(cgi=[CGI_DIR], **cfg)))


class Cgi(unittest.TestCase):
    def test_a_script_gets_the_request_and_its_body(self):
        h = cgi(self)
        h.send(b'POST /echo.cgi/extra?a=1 HTTP/1.1\r\nX-Probe: p\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc')
        res = h.response()
        self.assertTrue(res.startswith(b'HTTP/1.1 200 OK'), res[:100])
        self.assertEqual(dechunk(res.split(b'\r\n\r\n', 1)[1]),
                         b'method=POST\npath=/echo.cgi/extra\nquery=a=1\nprobe=p\nbody=abc\n')

    def test_missing_scripts_are_404_and_files_that_are_not_executable_403(self):
        h = cgi(self)
        h.send(b'GET /nope.cgi HTTP/1.1\r\n\r\n')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 404'))
        h.send(b'GET /plain.cgi HTTP/1.1\r\n\r\n')
        self.assertTrue(h.response().startswith(b'HTTP/1.1 403'))

    def test_a_directory_url_without_a_slash_is_redirected(self):
        h = cgi(self)
        h.send(b'GET /sub HTTP/1.1\r\n\r\n')
        res = h.response()
        self.assertTrue(res.startswith(b'HTTP/1.1 301'))
        self.assertIn(b'Location: /sub/', res)

    def test_a_missing_docroot_fails_the_load(self):
        with self.assertRaises(Exception) as caught:
            cgi_app.CgiApp(support.make_config(cgi=['/no/such/dir']))
        self.assertIn('no such file or directory', str(caught.exception))

    def test_the_scripts_header_block(self):
        status, headers = cgi_app.parse_head(b'Status: 404 Gone\r\nContent-Type: text/plain')[:2]
        self.assertEqual(status, '404 Gone')
        self.assertIn(('Content-Type', 'text/plain'), headers)


if __name__ == '__main__':
    unittest.main()
