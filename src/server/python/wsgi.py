"""PEP 3333 glue: start_response/write, running the app and writing its response, wsgi.file_wrapper and
wsgi.errors (request bodies, wsgi.input, are request_body.py's).

Owns: the WSGI call itself (start_response with exc_info semantics, generator responses,
close() exactly once, 500 on an exception before the head was sent), and response framing
(Content-Length when the length is known, chunked for HTTP/1.1 streams, close otherwise,
HEAD without body).
"""
import os
import sys

from . import log
from .client_io import send_all, sendfile_all
from .http import response_head, LAST_CHUNK
from .offload import ACTIVE as ACTIVE_OFFLOADER, MIN_BYTES as OFFLOAD_MIN_BYTES

NO_BODY = ('1', '204', '304')
FRAMING_NAME_LENGTHS = frozenset((len('content-length'), len('connection'), len('transfer-encoding')))
MERGE_MAX = 65536     # a first body block up to this size is sent in one piece with the response head

# What a write to a gone client does, set once per worker from its config by `configure` (uWSGI's names):
LOG_WRITE_ERRORS = [True]     # log one line per request whose client went away (off: ignore-write-errors)
WRITE_EXCEPTION = [True]      # the app's write() raises OSError('write error') (off: disable-write-exception)


def configure(cfg):
    LOG_WRITE_ERRORS[0] = not cfg.get('ignore-write-errors')
    WRITE_EXCEPTION[0] = not cfg.get('disable-write-exception')


class ClientGone(OSError):
    """The client went away while we wrote (or read) its request. An OSError, as uWSGI's "write error" is, so an app
    that guards its write() calls with `except OSError` (IOError) catches it."""


class DropConnection(Exception):
    """Raised by the app (front.py: a routing `break` without a status) before it answers: the connection is closed
    with no response, as uWSGI does."""


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
        self.head_only = self.no_body = head_only
        self.http = http
        self.stopping = stopping
        self.status = self.headers = None
        self.sent = self.chunked = self.exception = self.write_error = False
        self.body_bytes = self.head_bytes = self.counted = 0

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
        return self.write if WRITE_EXCEPTION[0] else self.write_quietly

    def write_quietly(self, data):
        """The app's write() under disable-write-exception: once the client is gone its data is dropped, silently."""
        try:
            self.write(data)
        except ClientGone:
            pass

    def _send(self, data):
        if self.write_error:
            raise ClientGone('write error')
        try:
            send_all(self.conn.sock, data)
        except OSError as e:
            self.gone(e)

    def gone(self, e):
        """A write to the client failed: logged once (unless ignore-write-errors), then ClientGone."""
        self.write_error = True
        self.keepalive = False
        if LOG_WRITE_ERRORS[0]:
            env = self.env
            log.log('uwsgi_response_write_body_do(): %s during %s %s (%s)' % (
                e.strerror or e, env.get('REQUEST_METHOD'), env.get('REQUEST_URI'), env.get('REMOTE_ADDR')))
        raise ClientGone('write error')

    def head(self, length):
        """Bytes of the response head; `length` = body length if known, else None."""
        if self.status is None:
            raise AssertionError('the application did not call start_response()')
        has_len = False
        headers = self.headers
        for k, v in headers:
            if len(k) in FRAMING_NAME_LENGTHS:
                k = k.lower()
                if k == 'content-length' or k == 'transfer-encoding':    # the app frames the body itself
                    has_len = True
                elif k == 'connection' and v.lower() == 'close':
                    self.keepalive = False
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
        head = b''
        if not self.sent:
            if self.head_only:
                self.counted += len(data)
                return
            head = self.head(None)
        if self.no_body or not data:
            if head:
                self._send(head)
            return
        n = len(data)
        self.body_bytes += n
        # The head goes out with the first body bytes, in one send: one segment, one wake-up of the client (a
        # front proxy reads the whole response at once) instead of two. A large first block is not copied for that.
        if head and n > MERGE_MAX:
            self._send(head)
            head = b''
        if self.chunked:
            self._send(b'%s%x\r\n%s\r\n' % (head, n, data))
        else:
            self._send(head + data if head else data)

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
    except DropConnection:
        ex.keepalive = False
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
        if result is not None and result.__class__ is not list:
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
    offloader = ACTIVE_OFFLOADER[0]
    if offloader is not None and count >= OFFLOAD_MIN_BYTES:
        # offload.py sends the body and closes the connection: the core lets go of it after the head
        ex.keepalive = False
        ex._send(ex.head(_known_length(ex, count)))
        if not ex.no_body:
            offloader.sendfile(ex.conn.sock.fileno(), fd, offset, count)
            ex.body_bytes += count
            ex.conn.buf = b''
        return True
    ex._send(ex.head(_known_length(ex, count)))
    if ex.no_body:
        return True
    try:
        sent = sendfile_all(ex.conn.sock, fd, offset, count)
    except OSError as e:
        ex.gone(e)
    ex.body_bytes += sent
    return True


def _known_length(ex, count):
    for k, v in ex.headers or ():
        if k.lower() == 'content-length':
            return None
    return count
