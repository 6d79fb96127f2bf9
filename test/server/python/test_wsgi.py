"""wsgi: PEP 3333 semantics of start_response, write, iterables, close(), errors and framing of the response."""
import os
import tempfile
import unittest
from unittest import mock

import support
from support import CoreHarness
from _kaiser import wsgi


def serve(test, app, raw=b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', **cfg):
    h = CoreHarness(test, app, **cfg)
    h.send(raw)
    return h, h.response()


class Framing(unittest.TestCase):
    def test_a_list_body_gets_content_length(self):
        _, res = serve(self, lambda e, s: (s('200 OK', []), [b'a', b'bc'])[1])
        self.assertEqual(res, b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc')

    def test_a_generator_body_is_chunked_on_http_11(self):
        def app(env, start_response):
            start_response('200 OK', [])
            yield b'ab'
            yield b''
            yield b'cde'
        _, res = serve(self, app)
        self.assertEqual(res, b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n')

    def test_a_generator_body_on_http_10_is_ended_by_close(self):
        def app(env, start_response):
            start_response('200 OK', [])
            yield b'x'
        h, res = serve(self, app, b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        self.assertEqual(res, b'HTTP/1.0 200 OK\r\n\r\nx')
        self.assertFalse(h.is_open())

    def test_head_gets_the_length_and_no_body(self):
        _, res = serve(self, lambda e, s: (s('200 OK', []), [b'abc'])[1], b'HEAD / HTTP/1.1\r\n\r\n')
        self.assertEqual(res, b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n')

    def test_204_and_304_have_no_body_and_no_length(self):
        for status in ('204 No Content', '304 Not Modified'):
            with self.subTest(status=status):
                _, res = serve(self, lambda e, s: (s(status, []), [])[1])
                self.assertEqual(res, ('HTTP/1.1 %s\r\n\r\n' % status).encode())

    def test_the_apps_own_content_length_is_kept(self):
        _, res = serve(self, lambda e, s: (s('200 OK', [('Content-Length', '2')]), [b'ok'])[1])
        self.assertEqual(res, b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')

    def test_the_head_goes_out_with_the_first_body_block_in_one_send(self):
        class Body:
            # not a list: the block-by-block path, as Flask's and Django's responses take it
            def __iter__(self):
                yield b''
                yield b'{"hello": "x"}'

        sent = []
        real = wsgi.send_all
        with mock.patch.object(wsgi, 'send_all', lambda sock, data: (sent.append(bytes(data)), real(sock, data))):
            _, res = serve(self, lambda e, s: (s('200 OK', [('Content-Length', '14')]), Body())[1])
        self.assertEqual(sent, [b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"hello": "x"}'])
        self.assertEqual(res, sent[0])

    def test_a_large_first_block_is_not_copied_to_join_the_head(self):
        big = b'x' * (wsgi.MERGE_MAX + 1)
        sent = []
        real = wsgi.send_all
        with mock.patch.object(wsgi, 'send_all', lambda sock, data: (sent.append(len(data)), real(sock, data))):
            h = CoreHarness(self, lambda e, s: (s('200 OK', [('Content-Length', str(len(big)))]), iter([big]))[1])
            h.send(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertEqual(sent[1:], [len(big)])

    def test_write_sends_the_head_first(self):
        def app(env, start_response):
            write = start_response('200 OK', [])
            write(b'early ')
            return [b'late']
        _, res = serve(self, app)
        self.assertIn(b'6\r\nearly \r\n4\r\nlate\r\n0\r\n\r\n', res)


class Errors(unittest.TestCase):
    def test_an_exception_before_the_head_gives_500_and_closes(self):
        def app(env, start_response):
            raise RuntimeError('boom')
        h, res = serve(self, app)
        self.assertTrue(res.startswith(b'HTTP/1.1 500 Internal Server Error\r\n'))
        self.assertTrue(res.endswith(b'Internal Server Error'))
        self.assertFalse(h.is_open())
        self.assertTrue(any('RuntimeError: boom' in line for line in h.lines))
        self.assertEqual(h.worker.slot.exceptions, 1)

    def test_an_exception_after_the_head_closes_the_connection(self):
        def app(env, start_response):
            start_response('200 OK', [])
            yield b'part'
            raise RuntimeError('late')
        h, res = serve(self, app)
        self.assertTrue(res.startswith(b'HTTP/1.1 200 OK'))
        self.assertFalse(h.is_open())

    def test_close_is_called_exactly_once(self):
        closed = []

        class Body:
            def __iter__(self):
                return iter([b'x'])

            def close(self):
                closed.append(1)
        serve(self, lambda e, s: (s('200 OK', []), Body())[1])
        self.assertEqual(closed, [1])

    def test_start_response_twice_without_exc_info_is_an_error(self):
        def app(env, start_response):
            start_response('200 OK', [])
            start_response('500 Oops', [])
            return []
        _, res = serve(self, app)
        self.assertTrue(res.startswith(b'HTTP/1.1 500'))

    def test_start_response_with_exc_info_replaces_the_status_before_the_head(self):
        def app(env, start_response):
            start_response('200 OK', [])
            try:
                raise ValueError('x')
            except ValueError:
                import sys
                start_response('503 Busy', [], sys.exc_info())
            return [b'busy']
        _, res = serve(self, app)
        self.assertTrue(res.startswith(b'HTTP/1.1 503 Busy'))

    def test_non_bytes_body_is_an_error(self):
        _, res = serve(self, lambda e, s: (s('200 OK', []), ['text'])[1])
        self.assertTrue(res.startswith(b'HTTP/1.1 500'))


class GoneClient(unittest.TestCase):
    """The client hangs up before the app writes: what the app sees and what the log says (uWSGI's options)."""

    def run_app(self, **cfg):
        outcome = []

        def app(env, start_response):
            write = start_response('200 OK', [])
            try:
                write(b'x' * 65536)
                write(b'y')
                outcome.append('no exception')
            except OSError as e:
                outcome.append('OSError: %s' % e)
            return []
        self.addCleanup(wsgi.configure, {})
        wsgi.configure(support.make_config(**cfg))
        h = CoreHarness(self, app)
        h.client.sendall(b'GET /gone HTTP/1.1\r\nHost: x\r\n\r\n')
        h.client.close()
        h.core.readable(h.conn)
        logged = [line for line in h.lines if 'uwsgi_response_write_body_do()' in line]
        return outcome, logged

    def test_by_default_the_app_gets_an_oserror_and_the_log_one_line(self):
        outcome, logged = self.run_app()
        self.assertEqual(outcome, ['OSError: write error'])
        self.assertEqual(len(logged), 1)
        self.assertIn('during GET /gone', logged[0])

    def test_ignore_write_errors_keeps_the_exception_and_drops_the_line(self):
        self.assertEqual(self.run_app(ignore_write_errors=True), (['OSError: write error'], []))

    def test_disable_write_exception_lets_the_app_write_on_into_nothing(self):
        outcome, logged = self.run_app(disable_write_exception=True)
        self.assertEqual(outcome, ['no exception'])
        self.assertEqual(len(logged), 1)


class Files(unittest.TestCase):
    def test_file_wrapper_on_a_regular_file_is_sent_whole(self):
        f = tempfile.NamedTemporaryFile(delete=False)
        self.addCleanup(os.unlink, f.name)
        f.write(b'0123456789')
        f.close()

        def app(env, start_response):
            start_response('200 OK', [])
            return env['wsgi.file_wrapper'](open(f.name, 'rb'))
        _, res = serve(self, app)
        self.assertEqual(res, b'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789')

    def test_file_wrapper_iterates_other_file_likes(self):
        import io
        wrapper = wsgi.FileWrapper(io.BytesIO(b'abcdef'), 4)
        self.assertEqual(list(wrapper), [b'abcd', b'ef'])
        self.assertIsNone(wrapper.sendfile_info())

    def test_errors_stream_writes_text(self):
        err = wsgi.Errors()
        err.write('')
        err.writelines([])
        err.flush()


if __name__ == '__main__':
    unittest.main()
