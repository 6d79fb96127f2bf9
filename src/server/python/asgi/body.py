"""Request body framing for the ASGI server: Content-Length and chunked transfer coding, fed as bytes arrive.

Owns: splitting what the connection reads into body bytes and what follows the body (a pipelined next
request), strictly: chunk sizes are `1*HEXDIG` (no `0x`, sign or underscore), a chunk's data ends with CRLF,
chunk-size lines and the trailer section are bounded; anything else is HttpError(400). Trailers are read and
dropped (the ASGI scope has no place for request trailers).
"""
from .head import HttpError, chunk_size

MAX_LINE = 4096           # a chunk-size line with extensions
MAX_TRAILERS = 16384      # the whole trailer section


class LengthBody:
    """A body of a known length."""

    __slots__ = ('remaining',)

    def __init__(self, length):
        self.remaining = length

    def feed(self, data):
        """-> (body bytes, bytes after the body, finished)."""
        n = self.remaining
        if len(data) < n:
            self.remaining = n - len(data)
            return data, b'', False
        self.remaining = 0
        return data[:n], data[n:], True


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedBody:
    """A chunked body: a small state machine over chunk-size lines, chunk data and the trailer section."""

    __slots__ = ('state', 'left', 'pending', 'trailer_bytes')

    def __init__(self):
        self.state = _SIZE
        self.left = 0
        self.pending = b''      # an incomplete line (size line, CRLF after data, trailer line)
        self.trailer_bytes = 0

    def feed(self, data):
        """-> (body bytes, bytes after the body, finished); raises HttpError on a malformed body."""
        if self.pending:
            data = self.pending + data
            self.pending = b''
        out = []
        pos = 0
        n = len(data)
        while pos < n:
            state = self.state
            if state == _DATA:
                take = min(self.left, n - pos)
                out.append(data[pos:pos + take])
                pos += take
                self.left -= take
                if self.left == 0:
                    self.state = _DATA_END
            elif state == _DATA_END:
                if n - pos < 2:
                    self.pending = data[pos:]
                    break
                if data[pos:pos + 2] != b'\r\n':
                    raise HttpError(400, 'chunk data not followed by CRLF')
                pos += 2
                self.state = _SIZE
            else:
                i = data.find(b'\r\n', pos)
                if i < 0:
                    rest = data[pos:]
                    if len(rest) > (MAX_LINE if state == _SIZE else MAX_TRAILERS):
                        raise HttpError(400, 'chunk-size line or trailer too long')
                    self.pending = rest
                    break
                line = data[pos:i]
                pos = i + 2
                if state == _SIZE:
                    if len(line) > MAX_LINE:
                        raise HttpError(400, 'chunk-size line too long')
                    size = chunk_size(line)
                    if size:
                        self.left = size
                        self.state = _DATA
                    else:
                        self.state = _TRAILER
                elif line:
                    self.trailer_bytes += len(line) + 2
                    if self.trailer_bytes > MAX_TRAILERS or line.find(b':') <= 0:
                        raise HttpError(400, 'bad trailer section')
                else:
                    self.state = _DONE
                    return b''.join(out), data[pos:], True
        return b''.join(out), b'', False
