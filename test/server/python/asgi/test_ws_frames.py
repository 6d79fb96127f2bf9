"""asgi/ws_frames.py: RFC 6455 handshake key, masking, frames both ways, close payloads and protocol errors."""
import os
import struct
import unittest

import asgi_support  # noqa: F401
from _kaiser.asgi import ws_frames
from _kaiser.asgi.ws_frames import BINARY, CLOSE, PING, TEXT, FrameReader, ProtocolError


def client_frame(opcode, payload, fin=True, mask=b'\x01\x02\x03\x04', rsv=0):
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = bytes((b0, 0x80 | 126)) + struct.pack('!H', n)
    else:
        head = bytes((b0, 0x80 | 127)) + struct.pack('!Q', n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 70000 else ws_frames.unmask(payload, mask)
    return head + mask + masked


class Handshake(unittest.TestCase):
    def test_rfc_6455_example_key(self):
        self.assertEqual(ws_frames.accept_key(b'dGhlIHNhbXBsZSBub25jZQ=='), b's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')

    def test_key_must_be_16_bytes_of_base64(self):
        self.assertTrue(ws_frames.valid_key(b'dGhlIHNhbXBsZSBub25jZQ=='))
        self.assertFalse(ws_frames.valid_key(b'short'))
        self.assertFalse(ws_frames.valid_key(b'!!!!'))


class Masking(unittest.TestCase):
    def test_unmask_matches_the_bytewise_definition_across_sizes(self):
        mask = b'\x9a\x01\xfe\x33'
        for n in (0, 1, 3, 4, 5, 125, 126, 65535, 65536, 65537, 200001):
            data = os.urandom(n)
            expect = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            with self.subTest(n=n):
                self.assertEqual(ws_frames.unmask(data, mask), expect)


class ServerFrames(unittest.TestCase):
    def test_lengths_use_7_16_and_64_bit_forms(self):
        self.assertEqual(ws_frames.frame(TEXT, b'hi'), b'\x81\x02hi')
        self.assertEqual(ws_frames.frame(BINARY, b'x' * 126)[:4], b'\x82\x7e\x00\x7e')
        self.assertEqual(ws_frames.frame(BINARY, b'x' * 65536)[:10], b'\x82\x7f' + struct.pack('!Q', 65536))

    def test_close_payloads(self):
        self.assertEqual(ws_frames.close_payload(1000, 'bye'), b'\x03\xe8bye')
        self.assertEqual(ws_frames.close_payload(1005), b'')
        self.assertEqual(ws_frames.parse_close(b''), (1005, ''))
        self.assertEqual(ws_frames.parse_close(b'\x0f\xa0ok'), (4000, 'ok'))
        for bad in (b'\x03', b'\x03\xed', b'\x00\x00', b'\x03\xe8\xff'):
            with self.assertRaises(ProtocolError):
                ws_frames.parse_close(bad)


class Reading(unittest.TestCase):
    def test_text_binary_and_control_frames_split_anywhere(self):
        wire = client_frame(TEXT, 'h\u00e9llo'.encode()) + client_frame(PING, b'p') + client_frame(BINARY, b'\x00\x01')
        for at in range(len(wire) + 1):
            r = FrameReader(1 << 20)
            got = r.feed(wire[:at]) + r.feed(wire[at:])
            with self.subTest(at=at):
                self.assertEqual(got, [(TEXT, 'h\u00e9llo'), (PING, b'p'), (BINARY, b'\x00\x01')])

    def test_fragmented_message_with_a_ping_inside(self):
        wire = (client_frame(TEXT, b'ab', fin=False) + client_frame(PING, b'') + client_frame(0, b'cd', fin=False)
                + client_frame(0, b'ef'))
        self.assertEqual(FrameReader(1 << 20).feed(wire), [(PING, b''), (TEXT, 'abcdef')])

    def test_large_payload_lengths(self):
        big = os.urandom(70000)
        self.assertEqual(FrameReader(1 << 20).feed(client_frame(BINARY, big)), [(BINARY, big)])

    def test_protocol_errors_carry_their_close_code(self):
        cases = [
            (client_frame(TEXT, b'x')[:1] + bytes((1,)) + b'x', 1002),        # unmasked
            (client_frame(TEXT, b'x', rsv=0x40), 1002),                         # RSV1 without extension
            (client_frame(0x3, b'x'), 1002),                                    # unknown opcode
            (client_frame(PING, b'x', fin=False), 1002),                        # fragmented control
            (client_frame(PING, b'x' * 126), 1002),                             # oversized control
            (client_frame(0, b'x'), 1002),                                      # continuation without start
            (client_frame(TEXT, b'a', fin=False) + client_frame(TEXT, b'b'), 1002),
            (client_frame(TEXT, b'\xff'), 1007),                                # not UTF-8
            (client_frame(BINARY, b'x' * 101), 1009),                           # over max size
        ]
        for wire, code in cases:
            with self.subTest(code=code, wire=wire[:4]):
                with self.assertRaises(ProtocolError) as cm:
                    FrameReader(100).feed(wire)
                self.assertEqual(cm.exception.code, code)

    def test_oversize_is_refused_from_the_header_before_the_payload_arrives(self):
        with self.assertRaises(ProtocolError):
            FrameReader(1000).feed(client_frame(BINARY, b'x' * 5000)[:20])

    def test_close_frames_pass_through(self):
        self.assertEqual(FrameReader(100).feed(client_frame(CLOSE, b'\x03\xe8')), [(CLOSE, b'\x03\xe8')])


if __name__ == '__main__':
    unittest.main()
