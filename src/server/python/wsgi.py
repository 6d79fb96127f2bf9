"""PEP 3333 glue: request bodies (wsgi.input), start_response/write, running the app and
writing its response, wsgi.file_wrapper and wsgi.errors.

Owns: the WSGI call itself (start_response with exc_info semantics, generator responses,
close() exactly once, 500 on an exception before the head was sent), and response framing
(Content-Length when the length is known, chunked for HTTP/1.1 streams, close otherwise,
HEAD without body).
"""
import os
import select
import _socket
import sys

from . import log
from .http import response_head, LAST_CHUNK

CRLF = b'\r\n'
NO_BODY = ('1', '204', '304')


class ClientGone(Exception):
    """The client went away while we wrote (or read) its request."""


# ── non-blocking socket I/O with the socket-timeout ──────────────────────────────────────────
# Connection sockets stay non-blocking (no poll() before every recv/send as Python's timeout
# sockets do); only when the kernel says EAGAIN do we wait, at most `timeout` seconds.

TIMEOUT = [4.0]


def _wait(sock, events):
    p = select.poll()
    p.register(sock.fileno(), events)
    if not p.poll(TIMEOUT[0] * 1000):
        raise _socket.timeout('timed out')


def recv_wait(sock, n):
    while True:
        try:
            return sock.recv(n)
        except BlockingIOError:
            _wait(sock, select.POLLIN)


def send_all(sock, data):
    try:
        n = sock.send(data)
    except BlockingIOError:
        n = 0
    if n == len(data):
        return
    view = memoryview(data)[n:]
    while view:
        _wait(sock, select.POLLOUT)
        try:
            n = sock.send(view)
        except BlockingIOError:
            continue
        view = view[n:]


def sendfile_all(sock, fd, offset, count):
    sent = 0
    out = sock.fileno()
    while sent < count:
        try:
            n = os.sendfile(out, fd, offset + sent, count - sent)
        except BlockingIOError:
            _wait(sock, select.POLLOUT)
            continue
        if n == 0:
            break
        sent += n
    return sent


# ── request bodies ────────────────────────────────────────────────────────────────────────────

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


class Errors:
    """wsgi.errors: text to the log (stderr), line by line."""

    def write(self, s):
        if isinstance(s, bytes):
            s = s.decode('utf-8', 'replace')
        sys.stderr.write(s)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        try:
            sys.stderr.flush()
        except Exception:
            pass


class FileWrapper:
    """wsgi.file_wrapper: iterates a file in blocks; the server uses sendfile() when it can."""

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def sendfile_info(self):
        """(fd, offset, count) if the wrapped object is a regular file, else None."""
        try:
            fd = self.filelike.fileno()
            st = os.fstat(fd)
            if (st.st_mode & 0o170000) != 0o100000:
                return None
            pos = self.filelike.tell()
            return fd, pos, max(0, st.st_size - pos)
        except Exception:
            return None


# ── the exchange: one request/response ───────────────────────────────────────────────────────

class Exchange:
    __slots__ = ('conn', 'env', 'proto', 'keepalive', 'head_only', 'http', 'status', 'headers', 'sent',
                 'chunked', 'body_bytes', 'head_bytes', 'exception', 'write_error', 'no_body', 'counted',
                 'stopping')

    def __init__(self, conn, env, proto, keepalive, head_only, http, stopping):
        self.conn = conn
        self.env = env
        self.proto = proto
        self.keepalive = keepalive
        self.head_only = head_only
        self.http = http
        self.status = None
        self.headers = None
        self.sent = False
        self.chunked = False
        self.body_bytes = 0
        self.head_bytes = 0
        self.exception = False
        self.write_error = False
        self.no_body = head_only
        self.counted = 0
        self.stopping = stopping

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError('start_response() called a second time without exc_info')
        if type(status) is not str:
            raise TypeError('status must be a str, got %r' % (status,))
        self.status = status
        self.headers = headers
        return self.write

    def _send(self, data):
        try:
            send_all(self.conn.sock, data)
        except OSError as e:
            self.write_error = True
            self.keepalive = False
            raise ClientGone(str(e))

    def head(self, length):
        """Bytes of the response head; `length` = body length if known, else None."""
        if self.status is None:
            raise AssertionError('the application did not call start_response()')
        has_len = False
        headers = self.headers
        for k, v in headers:
            n = len(k)
            if n == 14 and k.lower() == 'content-length':
                has_len = True
            elif n == 10 and k.lower() == 'connection':
                if v.lower() == 'close':
                    self.keepalive = False
            elif n == 17 and k.lower() == 'transfer-encoding':
                has_len = True  # the app frames the body itself
        self.sent = True
        st = self.status
        if st.startswith(NO_BODY):
            self.no_body = True
            length = None
            has_len = True
        if not self.http:
            h = response_head(self.proto, st, headers, None)
            self.head_bytes = len(h)
            return h
        extra = ''
        if not has_len:
            if length is not None:
                extra = 'Content-Length: %d\r\n' % length
            elif self.proto == 'HTTP/1.1' and not self.no_body:
                extra = 'Transfer-Encoding: chunked\r\n'
                self.chunked = True
            elif not self.head_only:
                self.keepalive = False
        if self.stopping[0]:
            self.keepalive = False
        if not self.keepalive:
            if self.proto == 'HTTP/1.1':
                extra += 'Connection: close\r\n'
        elif self.proto == 'HTTP/1.0':
            extra += 'Connection: keep-alive\r\n'
        h = response_head(self.proto, st, headers, extra)
        self.head_bytes = len(h)
        return h

    def write(self, data):
        """PEP 3333 write(): also used for each item of an iterable response."""
        if type(data) is not bytes:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            else:
                raise TypeError('response data must be bytes, got %s' % type(data).__name__)
        if not self.sent:
            if self.head_only:
                self.counted += len(data)
                return
            self._send(self.head(None))
        if self.no_body or not data:
            return
        self.body_bytes += len(data)
        if self.chunked:
            self._send(b'%x\r\n%s\r\n' % (len(data), data))
        else:
            self._send(data)

    def finish(self):
        if not self.sent:
            self._send(self.head(self.counted))
        elif self.chunked:
            self._send(LAST_CHUNK)

    def error_500(self):
        body = b'Internal Server Error'
        self.status = '500 Internal Server Error'
        self.headers = [('Content-Type', 'text/plain')]
        self.keepalive = False
        self._send(self.head(len(body)) + (b'' if self.head_only else body))
        self.body_bytes = 0 if self.head_only else len(body)


def run(app, ex):
    """Call the app and write its response. Returns normally; errors are logged and counted."""
    result = None
    try:
        result = app(ex.env, ex.start_response)
        rt = type(result)
        if (rt is list or rt is tuple) and not ex.sent:
            n = len(result)
            if n == 1:
                body = result[0]
                if type(body) is not bytes:
                    raise TypeError('response data must be bytes, got %s' % type(body).__name__)
            else:
                for item in result:
                    if type(item) is not bytes:
                        raise TypeError('response data must be bytes, got %s' % type(item).__name__)
                body = b''.join(result)
            h = ex.head(len(body))
            if ex.no_body:
                ex._send(h)
            else:
                ex.body_bytes = len(body)
                ex._send(h + body)
        elif rt is FileWrapper and not ex.sent and not ex.head_only and _sendfile(ex, result):
            pass
        else:
            write = ex.write
            for data in result:
                if data:
                    write(data)
            ex.finish()
    except ClientGone:
        pass
    except Exception:
        ex.exception = True
        import traceback
        log.log('Traceback of an exception in the application (%s %s):\n%s' % (
            ex.env.get('REQUEST_METHOD'), ex.env.get('REQUEST_URI'), traceback.format_exc()))
        if not ex.sent:
            try:
                ex.error_500()
            except ClientGone:
                pass
        else:
            ex.keepalive = False
    finally:
        if result is not None:
            close = getattr(result, 'close', None)
            if close is not None:
                try:
                    close()
                except Exception:
                    ex.exception = True
                    import traceback
                    log.log('Exception in close() of the response:\n%s' % traceback.format_exc())


def _sendfile(ex, fw):
    info = fw.sendfile_info()
    if info is None:
        return False
    fd, offset, count = info
    ex._send(ex.head(_known_length(ex, count)))
    if ex.no_body:
        return True
    try:
        sent = sendfile_all(ex.conn.sock, fd, offset, count)
    except OSError as e:
        ex.write_error = True
        ex.keepalive = False
        raise ClientGone(str(e))
    ex.body_bytes += sent
    return True


def _known_length(ex, count):
    for k, v in ex.headers or ():
        if k.lower() == 'content-length':
            return None
    return count
