"""The uwsgi binary protocol (what nginx `uwsgi_pass` speaks): request packet parsing.

Owns: the 4-byte header (modifier1, u16le datasize, modifier2) and the vars block of
u16le-length-prefixed key/value pairs. The response is a plain HTTP response written by
the worker, after which the connection is closed.
"""


class PacketError(Exception):
    pass


def need(buf):
    """Total packet length (header + vars) once the 4-byte header is in `buf`, else -1."""
    if len(buf) < 4:
        return -1
    return 4 + (buf[1] | (buf[2] << 8))


def datasize(buf):
    return buf[1] | (buf[2] << 8)


def parse_vars(buf, end):
    """Vars block of a complete packet -> dict of str (latin-1) values."""
    out = {}
    pos = 4
    while pos < end:
        if pos + 2 > end:
            raise PacketError('truncated key length')
        kl = buf[pos] | (buf[pos + 1] << 8)
        pos += 2
        key = buf[pos:pos + kl]
        pos += kl
        if pos + 2 > end:
            raise PacketError('truncated value length')
        vl = buf[pos] | (buf[pos + 1] << 8)
        pos += 2
        if pos + vl > end:
            raise PacketError('truncated value')
        out[key.decode('latin-1')] = buf[pos:pos + vl].decode('latin-1')
        pos += vl
    return out


def build(vars_, modifier1=0, modifier2=0):
    """Encode a packet (used by tests and tools)."""
    parts = []
    for k, v in vars_.items():
        kb = k.encode('latin-1')
        vb = v.encode('latin-1')
        parts.append(len(kb).to_bytes(2, 'little') + kb + len(vb).to_bytes(2, 'little') + vb)
    data = b''.join(parts)
    return bytes((modifier1,)) + len(data).to_bytes(2, 'little') + bytes((modifier2,)) + data
