"""request_body: bodies decoded as their bytes arrive (strict framing), spooled, and read back as wsgi.input."""
import os
import unittest
from unittest import mock

import support  # noqa: F401
from _kaiser import request_body
from _kaiser.request_body import EMPTY_INPUT, BadBody, BytesInput, ChunkedBody, LengthBody, Spool


def feed_all(body, data, step=None):
    """Feeds `data` in pieces of `step` bytes (all at once when None), as reads would bring it -> what is left over."""
    step = step or max(len(data), 1)
    buf = b''
    pos = 0
    while pos < len(data) and not body.done():
        buf += data[pos:pos + step]
        pos += step
        buf = buf[body.feed(buf):]
    return buf + data[pos:]


class Length(unittest.TestCase):
    def test_takes_exactly_its_length_and_leaves_the_next_request(self):
        body = LengthBody(5)
        self.assertEqual(feed_all(body, b'helloGET /', step=3), b'GET /')
        self.assertTrue(body.done())
        self.assertEqual(body.spool.input().read(), b'hello')

    def test_waits_for_the_rest(self):
        body = LengthBody(10)
        self.assertEqual(body.feed(b'abc'), 3)
        self.assertFalse(body.done())


class Chunked(unittest.TestCase):
    def decode(self, data, step=None):
        body = ChunkedBody()
        rest = feed_all(body, data, step)
        self.assertTrue(body.done())
        return body.spool.input().read(), rest

    def test_chunks_extensions_and_trailers_in_any_pieces(self):
        data = b'5;name=value\r\nhello\r\n6 ; x\r\n world\r\na\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT'
        for step in (None, 1, 2, 7):
            with self.subTest(step=step):
                self.assertEqual(self.decode(data, step), (b'hello world0123456789', b'NEXT'))

    def test_uppercase_hex_and_leading_zeros(self):
        self.assertEqual(self.decode(b'0A\r\n0123456789\r\n000\r\n\r\n')[0], b'0123456789')

    def test_chunk_sizes_are_1_hexdig_and_nothing_else(self):
        for size in (b'0x5', b'_5', b'5_', b'+5', b'-5', b' 5', b'5 ', b'', b'g', b'5\t', b'1' * 17, b'5;a\x00b'):
            with self.subTest(size=size):
                with self.assertRaises(BadBody):
                    ChunkedBody().feed(size + b'\r\nhello\r\n0\r\n\r\n')

    def test_chunk_data_must_end_with_crlf(self):
        for data in (b'3\r\nabcX\r\n0\r\n\r\n', b'3\r\nabc\nX0\r\n\r\n'):
            with self.subTest(data=data):
                with self.assertRaises(BadBody):
                    ChunkedBody().feed(data)

    def test_lines_and_trailers_are_bounded(self):
        with self.assertRaises(BadBody):
            ChunkedBody().feed(b'1' * (request_body.LINE_LIMIT + 1))
        trailers = b''.join(b'X-%d: 1\r\n' % i for i in range(request_body.TRAILERS_LIMIT + 1))
        with self.assertRaises(BadBody):
            ChunkedBody().feed(b'0\r\n' + trailers + b'\r\n')
        with self.assertRaises(BadBody):
            ChunkedBody().feed(b'0\r\nno colon\r\n\r\n')


class Spooling(unittest.TestCase):
    def test_a_body_past_the_memory_limit_goes_to_an_unnamed_file(self):
        with mock.patch.object(request_body, 'MEMORY_LIMIT', 10):
            spool = Spool()
            spool.write(b'0123456')
            self.assertIsNone(spool.fd)
            spool.write(b'789abcdef')
            self.assertIsNotNone(spool.fd)
            self.assertEqual(os.fstat(spool.fd).st_nlink, 0)
            inp = spool.input()
        self.assertEqual(inp.read(), b'0123456789abcdef')
        inp.release()
        self.assertIsNone(inp.fd)

    def test_post_buffering_sets_how_much_stays_in_memory(self):
        body = LengthBody(20, memory_limit=10)
        body.feed(b'x' * 20)
        self.assertIsNotNone(body.spool.fd)
        inp = body.spool.input()
        self.assertEqual(inp.read(), b'x' * 20)
        inp.release()

    def test_discard_frees_the_file(self):
        with mock.patch.object(request_body, 'MEMORY_LIMIT', 1):
            spool = Spool()
            spool.write(b'abc')
        fd = spool.fd
        spool.discard()
        with self.assertRaises(OSError):
            os.fstat(fd)


class Input(unittest.TestCase):
    def test_read_sizes_readline_iteration_and_readlines(self):
        inp = BytesInput(b'a\nbb\nccc')
        self.assertEqual(inp.read(1), b'a')
        self.assertEqual(inp.readline(), b'\n')
        self.assertEqual(inp.readline(1), b'b')
        self.assertEqual(list(inp), [b'b\n', b'ccc'])
        self.assertEqual(BytesInput(b'1\n2\n3\n').readlines(3), [b'1\n', b'2\n'])

    def test_the_empty_input_reads_nothing(self):
        self.assertEqual((EMPTY_INPUT.read(), EMPTY_INPUT.readline(), EMPTY_INPUT.readlines(), list(EMPTY_INPUT)),
                         (b'', b'', [], []))


if __name__ == '__main__':
    unittest.main()
