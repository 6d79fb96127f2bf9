"""request_body: Content-Length and chunked bodies read from a real socket, as the app reads wsgi.input."""
import socket
import threading
import unittest

import support  # noqa: F401
from _kaiser import client_io
from _kaiser.request_body import EMPTY_INPUT, ChunkedInput, LengthInput


class Conn:
    """What request_body needs of a core's connection: the socket, bytes already read, the read-error flag."""

    def __init__(self, sock, buf=b''):
        self.sock = sock
        self.buf = buf
        self.read_error = False


class Body(unittest.TestCase):
    def conn(self, already=b'', then=b'', close=False):
        server, client = socket.socketpair()
        server.setblocking(False)
        self.addCleanup(server.close)
        self.addCleanup(client.close)
        if then:
            client.sendall(then)
        if close:
            client.shutdown(socket.SHUT_WR)
        self.client = client
        return Conn(server, already)

    def setUp(self):
        old = client_io.TIMEOUT[0]
        client_io.TIMEOUT[0] = 0.5
        self.addCleanup(client_io.TIMEOUT.__setitem__, 0, old)


class Length(Body):
    def test_reads_exactly_content_length_from_the_buffer_then_the_socket(self):
        c = self.conn(already=b'hel', then=b'lo worldNEXT')
        body = LengthInput(c, 11)
        self.assertEqual(body.read(), b'hello world')
        self.assertEqual(body.read(), b'')
        self.assertEqual(c.sock.recv(100), b'NEXT')

    def test_read_sizes_readline_and_iteration(self):
        c = self.conn(then=b'a\nbb\nccc')
        body = LengthInput(c, 8)
        self.assertEqual(body.read(1), b'a')
        self.assertEqual(body.readline(), b'\n')
        self.assertEqual(body.readline(1), b'b')
        self.assertEqual(list(body), [b'b\n', b'ccc'])

    def test_readlines_with_a_hint(self):
        c = self.conn(then=b'1\n2\n3\n')
        self.assertEqual(LengthInput(c, 6).readlines(3), [b'1\n', b'2\n'])

    def test_a_client_closing_early_is_an_error(self):
        c = self.conn(then=b'short', close=True)
        with self.assertRaises(IOError):
            LengthInput(c, 10).read()

    def test_a_client_too_slow_times_out(self):
        c = self.conn(then=b'part')
        with self.assertRaises(IOError):
            LengthInput(c, 10).read()
        self.assertTrue(c.read_error)

    def test_drain_discards_what_the_app_left_unread(self):
        c = self.conn(then=b'x' * 100 + b'NEXT')
        self.assertTrue(LengthInput(c, 100).drain())
        self.assertEqual(c.sock.recv(10), b'NEXT')

    def test_drain_gives_up_past_its_limit(self):
        c = self.conn(then=b'x' * 100)
        self.assertFalse(LengthInput(c, 100).drain(limit=50))


class Chunked(Body):
    def test_decodes_chunks_extensions_and_trailers(self):
        c = self.conn(then=b'5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT')
        self.assertEqual(ChunkedInput(c).read(), b'hello world')
        self.assertEqual(c.buf, b'NEXT')

    def test_hex_sizes(self):
        c = self.conn(then=b'A\r\n0123456789\r\n0\r\n\r\n')
        self.assertEqual(ChunkedInput(c).read(), b'0123456789')

    def test_a_bad_size_line_or_terminator_is_an_error(self):
        for raw in (b'zz\r\nabc\r\n0\r\n\r\n', b'3\r\nabcXX0\r\n\r\n'):
            with self.subTest(raw=raw):
                c = self.conn(then=raw)
                with self.assertRaises(IOError):
                    ChunkedInput(c).read()

    def test_a_size_line_that_never_ends_is_an_error(self):
        c = self.conn(then=b'1' * 9000)
        with self.assertRaises(IOError):
            ChunkedInput(c).read()

    def test_reads_across_slow_arrivals(self):
        c = self.conn()
        parts = [b'4\r\nab', b'cd\r\n', b'0\r', b'\n\r\n']

        def trickle():
            for p in parts:
                self.client.sendall(p)
        t = threading.Thread(target=trickle)
        t.start()
        self.assertEqual(ChunkedInput(c).read(), b'abcd')
        t.join()


class Empty(unittest.TestCase):
    def test_the_empty_input_reads_nothing(self):
        self.assertEqual((EMPTY_INPUT.read(), EMPTY_INPUT.readline(), EMPTY_INPUT.readlines(), list(EMPTY_INPUT)),
                         (b'', b'', [], []))
        self.assertTrue(EMPTY_INPUT.drain())


if __name__ == '__main__':
    unittest.main()
