"""Request bodies: their framing decoded as the bytes arrive, in the request core's event loop, and `wsgi.input` over
the whole body once it is in.

A core receives a body before it runs the app (uWSGI's post-buffering, nginx's request buffering): a client sending
slowly costs a connection and at most `post-buffering` bytes of memory (MEMORY_LIMIT when unset; the rest goes to an
unnamed temporary file), never a worker core, and `request-read-timeout` bounds how long it may take. Framing is strict (RFC 9112 §6-7): the
Content-Length is checked by http.py; a chunk size is 1*HEXDIG (no sign, no `0x`, no `_`, at most 16 digits), chunk
data ends with CRLF, a chunk-size or trailer line holds no control character and is at most LINE_LIMIT bytes, and a
body has at most TRAILERS_LIMIT trailer lines. Anything else is BadBody, answered 400.
"""
import os

MEMORY_LIMIT = 1 << 20        # bytes of one body kept in memory by default; the rest is spooled to a temporary file
LINE_LIMIT = 8192             # a chunk-size line or a trailer line
TRAILERS_LIMIT = 64
CHUNK_SIZE_DIGITS = 16        # 16 hex digits: 2**64 - 1, more than any body
CRLF = b'\r\n'
_HEXDIGITS = b'0123456789abcdefABCDEF'
_CTL = bytes(range(9)) + bytes(range(10, 32)) + b'\x7f'     # control characters but HTAB


class BadBody(Exception):
    """The body's framing is malformed (400)."""


def has_ctl(data):
    """True when `data` holds a control character other than HTAB."""
    return len(data.translate(None, _CTL)) != len(data)


class Spool:
    """A body as it arrives: in memory up to `memory_limit` bytes, then in an unnamed temporary file (O_TMPFILE)."""

    __slots__ = ('parts', 'size', 'fd', 'memory_limit')

    def __init__(self, memory_limit=None):
        self.parts = []
        self.size = 0
        self.fd = None
        self.memory_limit = memory_limit or MEMORY_LIMIT

    def write(self, data):
        if self.fd is None and self.size + len(data) > self.memory_limit:
            self.fd = _temporary_file()
            _write_all(self.fd, b''.join(self.parts))
            self.parts = []
        if self.fd is None:
            self.parts.append(data)
        else:
            _write_all(self.fd, data)
        self.size += len(data)

    def input(self):
        """wsgi.input over everything written."""
        if self.fd is None:
            return BytesInput(b''.join(self.parts))
        os.lseek(self.fd, 0, os.SEEK_SET)
        fd, self.fd = self.fd, None
        return FileInput(fd, self.size)

    def discard(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.parts = []


def _temporary_file():
    directory = os.environ.get('TMPDIR') or '/tmp'
    try:
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (AttributeError, OSError):
        # no O_TMPFILE (an old kernel, some file systems): a named file removed at once
        path = os.path.join(directory, 'kaiser-body-%s' % os.urandom(8).hex())
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
        os.unlink(path)
        return fd


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ── framing ───────────────────────────────────────────────────────────────────────────────────────

class LengthBody:
    """A body of Content-Length bytes."""

    __slots__ = ('left', 'spool')

    def __init__(self, length, memory_limit=None):
        self.left = length
        self.spool = Spool(memory_limit)

    def done(self):
        return self.left == 0

    def feed(self, buf):
        """Takes what belongs to the body from the start of `buf` -> bytes taken."""
        n = self.left if self.left < len(buf) else len(buf)
        if n:
            self.spool.write(buf[:n])
            self.left -= n
        return n


SIZE, DATA, DATA_END, TRAILER, DONE = 'size', 'data', 'data-end', 'trailer', 'done'


class ChunkedBody:
    """A chunked body (RFC 9112 §7.1): size line, data, CRLF, …, `0`, trailer lines, empty line.

       size ──n > 0──► data ──n bytes──► data-end ──CRLF──► size
       size ──0──► trailer ──(line)──► trailer ──empty line──► done
    """

    __slots__ = ('state', 'left', 'spool', 'trailers')

    def __init__(self, memory_limit=None):
        self.state = SIZE
        self.left = 0
        self.spool = Spool(memory_limit)
        self.trailers = 0

    def done(self):
        return self.state == DONE

    def feed(self, buf):
        """Decodes from the start of `buf` as far as it can -> bytes taken. Raises BadBody."""
        i = 0
        n = len(buf)
        while i < n and self.state != DONE:
            state = self.state
            if state == DATA:
                take = self.left if self.left < n - i else n - i
                self.spool.write(buf[i:i + take])
                i += take
                self.left -= take
                if self.left == 0:
                    self.state = DATA_END
                continue
            if state == DATA_END:
                if buf[i:i + 2] != CRLF[:n - i]:
                    raise BadBody('chunk data not followed by CRLF')
                if n - i < 2:
                    break
                i += 2
                self.state = SIZE
                continue
            j = buf.find(CRLF, i)
            if j < 0:
                if n - i > LINE_LIMIT:
                    raise BadBody('chunk line longer than %d bytes' % LINE_LIMIT)
                break
            line = buf[i:j]
            i = j + 2
            if state == SIZE:
                self.left = parse_chunk_size(line)
                self.state = DATA if self.left else TRAILER
            elif not line:
                self.state = DONE
            else:
                self.trailers += 1
                if self.trailers > TRAILERS_LIMIT or b':' not in line or has_ctl(line):
                    raise BadBody('bad trailer line %r' % line[:40])
        return i


def parse_chunk_size(line):
    """The size of a chunk-size line (`1*HEXDIG [BWS ; extensions]`), or BadBody."""
    size, semicolon, extensions = line.partition(b';')
    if semicolon:
        size = size.rstrip(b' \t')
    if not size or len(size) > CHUNK_SIZE_DIGITS or size.translate(None, _HEXDIGITS) or has_ctl(extensions):
        raise BadBody('bad chunk size line %r' % line[:40])
    return int(size, 16)


# ── wsgi.input ────────────────────────────────────────────────────────────────────────────────────

class _Input:
    """read/readline/readlines/iteration (PEP 3333) over a raw reader `_raw(n)` of a complete body."""

    __slots__ = ('pending',)

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

    def release(self):
        """The request is over: free what the body holds."""


class BytesInput(_Input):
    __slots__ = ('data', 'pos')

    def __init__(self, data):
        self.pending = b''
        self.data = data
        self.pos = 0

    def _raw(self, n):
        d = self.data[self.pos:self.pos + n]
        self.pos += len(d)
        return d


class FileInput(_Input):
    __slots__ = ('fd', 'left')

    def __init__(self, fd, size):
        self.pending = b''
        self.fd = fd
        self.left = size

    def _raw(self, n):
        if self.left <= 0 or self.fd is None:
            return b''
        d = os.read(self.fd, n if n < self.left else self.left)
        self.left -= len(d)
        return d

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


EMPTY_INPUT = BytesInput(b'')
