"""RFC 6455 websocket framing, server side: the opening handshake's accept key, parsing client frames, building
server frames.

Owns: the frame layout (FIN, RSV, opcode, MASK, 7/16/64-bit payload length, masking key), the protocol
errors a server must fail the connection for (an unmasked client frame, RSV bits without a negotiated
extension, an unknown opcode, a fragmented or over-125-byte control frame, a continuation without a start, a
new data frame inside a fragmented message), message size limits (1009), UTF-8 of text messages (1007), and
close frame payloads (status code + reason; codes a peer may not send are 1002). Unmasking XORs the payload
as one big integer per 64 KiB, in C inside CPython: 5-6 ms per MiB, so no compiled accelerator is needed.
"""
import base64
import hashlib
import struct

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA = (CONT, TEXT, BINARY)
_CONTROL = (CLOSE, PING, PONG)
_U16 = struct.Struct('!H')
_U64 = struct.Struct('!Q')
_STEP = 65536
# close codes a peer may send (RFC 6455 §7.4, IANA registry); 1005, 1006 and 1015 are never on the wire
_CLOSE_OK = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class ProtocolError(Exception):
    """The peer broke RFC 6455: fail the connection with close `code`."""

    def __init__(self, code, reason):
        Exception.__init__(self, reason)
        self.code = code


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (bytes)."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def valid_key(key):
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (ValueError, TypeError):
        return False


def unmask(data, mask):
    """The payload XORed with the 4-byte masking key."""
    n = len(data)
    if n <= _STEP:
        m = (mask * ((n >> 2) + 1))[:n]
        return (int.from_bytes(data, 'little') ^ int.from_bytes(m, 'little')).to_bytes(n, 'little')
    full = int.from_bytes(mask * (_STEP >> 2), 'little')
    out = []
    for i in range(0, n, _STEP):
        part = data[i:i + _STEP]
        k = len(part)
        mk = full if k == _STEP else int.from_bytes((mask * ((k >> 2) + 1))[:k], 'little')
        out.append((int.from_bytes(part, 'little') ^ mk).to_bytes(k, 'little'))
    return b''.join(out)


def frame(opcode, payload):
    """A final, unmasked server frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + _U16.pack(n) + payload
    return bytes((0x80 | opcode, 127)) + _U64.pack(n) + payload


def close_payload(code, reason=''):
    if code is None or code == 1005:
        return b''
    return _U16.pack(code) + reason.encode('utf-8')[:123]


def parse_close(payload):
    """(code, reason) of a received close frame; (1005, '') when it carries none."""
    if not payload:
        return 1005, ''
    if len(payload) == 1:
        raise ProtocolError(1002, 'close frame with a 1-byte payload')
    code = _U16.unpack_from(payload)[0]
    if code not in _CLOSE_OK and not 3000 <= code <= 4999:
        raise ProtocolError(1002, 'invalid close code %d' % code)
    try:
        reason = payload[2:].decode('utf-8')
    except UnicodeDecodeError:
        raise ProtocolError(1007, 'close reason is not UTF-8')
    return code, reason


class FrameReader:
    """Client frames to messages. `feed(data)` returns a list of (opcode, payload) with opcode TEXT (payload a
    str), BINARY (bytes), CLOSE, PING or PONG (bytes); raises ProtocolError."""

    __slots__ = ('buf', 'max_size', 'parts', 'parts_size', 'first_op')

    def __init__(self, max_size):
        self.buf = b''
        self.max_size = max_size
        self.parts = None          # payloads of a fragmented message
        self.parts_size = 0
        self.first_op = 0

    def feed(self, data):
        buf = self.buf + data if self.buf else data
        out = []
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b0 & 0x70:
                raise ProtocolError(1002, 'reserved bits set without a negotiated extension')
            if not b1 & 0x80:
                raise ProtocolError(1002, 'unmasked client frame')
            op = b0 & 0x0F
            length = b1 & 0x7F
            hdr = 6
            if length == 126:
                if n - pos < 4:
                    break
                length = _U16.unpack_from(buf, pos + 2)[0]
                hdr = 8
            elif length == 127:
                if n - pos < 10:
                    break
                length = _U64.unpack_from(buf, pos + 2)[0]
                hdr = 14
            if op in _CONTROL:
                if length > 125 or not b0 & 0x80:
                    raise ProtocolError(1002, 'fragmented or oversized control frame')
            elif op not in _DATA:
                raise ProtocolError(1002, 'unknown opcode %d' % op)
            elif length + self.parts_size > self.max_size:
                raise ProtocolError(1009, 'message over websockets-max-size (%d bytes)' % self.max_size)
            end = pos + hdr + length
            if end > n:
                break
            mask = buf[pos + hdr - 4:pos + hdr]
            payload = unmask(buf[pos + hdr:end], mask) if length else b''
            pos = end
            if op in _CONTROL:
                out.append((op, payload))
                continue
            fin = b0 & 0x80
            if op == CONT:
                if self.parts is None:
                    raise ProtocolError(1002, 'continuation frame without a message')
                self.parts.append(payload)
                self.parts_size += length
                if not fin:
                    continue
                op = self.first_op
                payload = b''.join(self.parts)
                self.parts = None
                self.parts_size = 0
            elif self.parts is not None:
                raise ProtocolError(1002, 'new message inside a fragmented one')
            elif not fin:
                self.parts = [payload]
                self.parts_size = length
                self.first_op = op
                continue
            if op == TEXT:
                try:
                    payload = payload.decode('utf-8')
                except UnicodeDecodeError:
                    raise ProtocolError(1007, 'text message is not UTF-8')
            out.append((op, payload))
        self.buf = buf[pos:] if pos < n else b''
        return out
