"""asgi/body.py: Content-Length and chunked bodies, whole or split at any byte, and what follows them."""
import unittest

import asgi_support  # noqa: F401
from _kaiser.asgi.body import MAX_TRAILERS, ChunkedBody, LengthBody
from _kaiser.asgi.head import HttpError


def feed_split(decoder, data, at):
    """Feed `data` in two parts split at `at`; -> (body, rest, finished)."""
    out, rest, done = decoder.feed(data[:at])
    if done:
        return out, rest + data[at:], True
    out2, rest2, done2 = decoder.feed(data[at:])
    return out + out2, rest2, done2


class Length(unittest.TestCase):
    def test_splits_body_from_what_follows(self):
        self.assertEqual(LengthBody(3).feed(b'abcGET'), (b'abc', b'GET', True))

    def test_partial_then_rest(self):
        d = LengthBody(5)
        self.assertEqual(d.feed(b'ab'), (b'ab', b'', False))
        self.assertEqual(d.feed(b'cdeX'), (b'cde', b'X', True))


class Chunked(unittest.TestCase):
    WIRE = b'5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nNEXT'

    def test_whole(self):
        self.assertEqual(ChunkedBody().feed(self.WIRE), (b'hello0123456789', b'NEXT', True))

    def test_split_at_every_byte(self):
        for at in range(1, len(self.WIRE)):
            with self.subTest(at=at):
                self.assertEqual(feed_split(ChunkedBody(), self.WIRE, at), (b'hello0123456789', b'NEXT', True))

    def test_one_byte_at_a_time(self):
        d = ChunkedBody()
        got = b''
        for i in range(len(self.WIRE) - 4):
            out, rest, done = d.feed(self.WIRE[i:i + 1])
            got += out
        self.assertTrue(done)
        self.assertEqual(got, b'hello0123456789')

    def test_malformed_bodies_are_400(self):
        for wire in (b'0x5\r\nhello\r\n0\r\n\r\n', b'+5\r\nhello\r\n0\r\n\r\n', b'5\r\nhelloXX0\r\n\r\n',
                     b'zz\r\n', b'5\r\nhello\r\n0\r\nbad trailer\r\n\r\n', b'1' * 5000):
            with self.subTest(wire=wire[:20]):
                with self.assertRaises(HttpError) as cm:
                    ChunkedBody().feed(wire)
                self.assertEqual(cm.exception.status, 400)

    def test_trailer_section_is_bounded(self):
        d = ChunkedBody()
        d.feed(b'0\r\n')
        with self.assertRaises(HttpError):
            for _ in range(MAX_TRAILERS // 10 + 2):
                d.feed(b'X-A: 12345\r\n')


if __name__ == '__main__':
    unittest.main()
