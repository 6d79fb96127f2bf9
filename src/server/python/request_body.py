"""Request bodies as `wsgi.input`: Content-Length and chunked framing, read lazily from the connection.

Owns: reading a body the app asks for (read, readline, readlines, iteration, PEP 3333), chunked decoding with
trailers, draining what the app left unread before the next keep-alive request, and the shared empty input.
"""
from .client_io import recv_wait

CRLF = b'\r\n'

def conn_read(conn, n):
    """Up to n bytes from the connection: first its buffered bytes, then the socket."""
    buf = conn.buf
    if buf:
        if len(buf) <= n:
            conn.buf = b''
            return buf
        conn.buf = buf[n:]
        return buf[:n]
    try:
        return recv_wait(conn.sock, n if n < 262144 else 262144)
    except OSError as e:
        conn.read_error = True
        raise IOError('error reading the request body: %s' % (e,))


def conn_line(conn, limit=8192):
    """One CRLF-terminated line from the connection (without CRLF)."""
    while True:
        i = conn.buf.find(CRLF)
        if i >= 0:
            line = conn.buf[:i]
            conn.buf = conn.buf[i + 2:]
            return line
        if len(conn.buf) > limit:
            raise IOError('chunk header line too long')
        conn.buf = b''.join((conn.buf, _recv_more(conn)))


def _recv_more(conn):
    try:
        d = recv_wait(conn.sock, 65536)
    except OSError as e:
        conn.read_error = True
        raise IOError('error reading the request body: %s' % (e,))
    if not d:
        raise IOError('client closed the connection during the request body')
    return d


class _Input:
    """Common read/readline/readlines/iteration over a raw body reader (_raw)."""

    __slots__ = ('conn', 'pending', 'done')

    def _raw(self, n):
        raise NotImplementedError

    def read(self, size=-1):
        if size is None or size < 0:
            chunks = [self.pending] if self.pending else []
            self.pending = b''
            while True:
                d = self._raw(65536)
                if not d:
                    return b''.join(chunks)
                chunks.append(d)
        out = []
        have = 0
        if self.pending:
            d = self.pending[:size]
            self.pending = self.pending[size:]
            out.append(d)
            have = len(d)
        while have < size:
            d = self._raw(size - have)
            if not d:
                break
            out.append(d)
            have += len(d)
        return b''.join(out)

    def readline(self, size=-1):
        if size is None:
            size = -1
        while True:
            i = self.pending.find(b'\n')
            if i >= 0 and (size < 0 or i < size):
                line = self.pending[:i + 1]
                self.pending = self.pending[i + 1:]
                return line
            if 0 <= size <= len(self.pending):
                line = self.pending[:size]
                self.pending = self.pending[size:]
                return line
            d = self._raw(65536)
            if not d:
                line = self.pending
                self.pending = b''
                return line
            self.pending += d

    def readlines(self, hint=None):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint and hint > 0 and total >= hint:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self, limit=1 << 20):
        """Discard what the app left unread; False if more than `limit` remains (then close)."""
        self.pending = b''
        left = limit
        while left > 0:
            try:
                d = self._raw(min(left, 65536))
            except (IOError, OSError, ValueError):
                return False
            if not d:
                return True
            left -= len(d)
        return False


class LengthInput(_Input):
    __slots__ = ('remaining',)

    def __init__(self, conn, length):
        self.conn = conn
        self.pending = b''
        self.remaining = length

    def _raw(self, n):
        if self.remaining <= 0:
            return b''
        d = conn_read(self.conn, n if n < self.remaining else self.remaining)
        if not d:
            raise IOError('client closed the connection during the request body')
        self.remaining -= len(d)
        return d


class ChunkedInput(_Input):
    __slots__ = ('left', 'finished')

    def __init__(self, conn):
        self.conn = conn
        self.pending = b''
        self.left = 0
        self.finished = False

    def _raw(self, n):
        if self.finished:
            return b''
        conn = self.conn
        if self.left == 0:
            line = conn_line(conn)
            try:
                size = int(line.split(b';', 1)[0].strip(), 16)
            except ValueError:
                raise IOError('bad chunk size line %r' % line[:40])
            if size < 0:
                raise IOError('bad chunk size')
            if size == 0:
                while conn_line(conn):  # trailers
                    pass
                self.finished = True
                return b''
            self.left = size
        d = conn_read(conn, n if n < self.left else self.left)
        if not d:
            raise IOError('client closed the connection during the request body')
        self.left -= len(d)
        if self.left == 0:
            while len(conn.buf) < 2:
                conn.buf = b''.join((conn.buf, _recv_more(conn)))
            if conn.buf[:2] != CRLF:
                raise IOError('bad chunk terminator')
            conn.buf = conn.buf[2:]
        return d


class EmptyInput:
    """wsgi.input of a request without a body (stateless, shared)."""

    def read(self, size=-1):
        return b''

    def readline(self, size=-1):
        return b''

    def readlines(self, hint=None):
        return []

    def __iter__(self):
        return iter(())

    def drain(self, limit=0):
        return True


EMPTY_INPUT = EmptyInput()
