"""A FastCGI client for one backend connection (what the PHP bridge speaks to php-cgi).

Owns: the record layout (version 1, type, request id, content and padding lengths), name-value pair
encoding, BEGIN_REQUEST with FCGI_KEEP_CONN so one connection carries every request of a request
core, STDIN streaming interleaved with reading STDOUT/STDERR (a script may answer before it has read
its whole body), and END_REQUEST. One request at a time per connection, id 1.
"""
import select
import struct

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT = 9, 10
RESPONDER = 1
KEEP_CONN = 1
_HEADER = struct.Struct('>BBHHBx')
MAX_CONTENT = 65535
BATCH = ('batch', None)


class BackendGone(Exception):
    """The connection to the backend failed or closed mid-request."""


def record(rtype, content, request_id=1):
    return _HEADER.pack(VERSION, rtype, request_id, len(content), 0) + content


def _length(n):
    # as latin-1 text: a length below 128 is one byte, others four with the high bit set
    if n < 128:
        return chr(n)
    return chr(((n >> 24) & 0x7f) | 0x80) + chr((n >> 16) & 0xff) + chr((n >> 8) & 0xff) + chr(n & 0xff)


def encode_params(params):
    """Name-value pairs of str (latin-1: one character per byte, so text lengths are byte lengths)."""
    out = []
    append = out.append
    for k, v in params.items():
        lk, lv = len(k), len(v)
        if lk < 128 and lv < 128:
            append(chr(lk) + chr(lv) + k + v)
        else:
            append(_length(lk) + _length(lv) + k + v)
    return ''.join(out).encode('latin-1', 'replace')


def stream_records(rtype, data):
    """`data` as records of type `rtype`, ending with the empty record that closes the stream."""
    out = []
    for i in range(0, len(data), MAX_CONTENT):
        out.append(record(rtype, data[i:i + MAX_CONTENT]))
    out.append(record(rtype, b''))
    return b''.join(out)


class Exchange:
    """One request on a connected socket `sock` (non-blocking). Iterate `events()` for ('stdout', bytes),
    ('stderr', bytes) and finally ('end', app_status)."""

    def __init__(self, sock, params, body_reader, timeout):
        self.sock = sock
        self.fd = sock.fileno()
        self.timeout = timeout
        self.out = bytearray(record(BEGIN_REQUEST, struct.pack('>HB5x', RESPONDER, KEEP_CONN)))
        self.out += stream_records(PARAMS, encode_params(params))
        self.body_reader = body_reader   # read(n) → bytes, b'' at the end; None: no body
        self.body_done = body_reader is None
        if self.body_done:
            self.out += record(STDIN, b'')
        self.inbuf = b''

    def _fill(self):
        """Tops the output buffer up with body records while it is small."""
        while not self.body_done and len(self.out) < 262144:
            data = self.body_reader(MAX_CONTENT)
            if not data:
                self.out += record(STDIN, b'')
                self.body_done = True
            else:
                for i in range(0, len(data), MAX_CONTENT):   # a reader may hand more than one record holds
                    self.out += record(STDIN, data[i:i + MAX_CONTENT])

    def events(self):
        """Yields what the backend sends; after the events of each read, ('batch', None), so a caller can tell
        that nothing more is buffered (a small response is usually all in one read)."""
        poller = None
        sock = self.sock
        while True:
            self._fill()
            if self.out:
                try:
                    n = sock.send(self.out)
                    del self.out[:n]
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise BackendGone('write to the PHP backend: %s' % e)
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                # nothing to read yet: wait for the backend (or for room to send more of the body)
                if poller is None:
                    poller = select.poll()
                    poller.register(self.fd, select.POLLIN)
                poller.modify(self.fd, select.POLLIN | (select.POLLOUT if self.out else 0))
                if not poller.poll(self.timeout * 1000):
                    raise TimeoutError('the PHP backend did not answer within %g s' % self.timeout)
                continue
            except OSError as e:
                raise BackendGone('read from the PHP backend: %s' % e)
            if not data:
                raise BackendGone('the PHP backend closed the connection')
            self.inbuf += data
            for ev in self._parse():
                yield ev
                if ev[0] == 'end':
                    return
            yield BATCH

    def _parse(self):
        buf = self.inbuf
        pos = 0
        out = []
        while len(buf) - pos >= 8:
            _v, rtype, _rid, clen, plen = _HEADER.unpack_from(buf, pos)
            end = pos + 8 + clen + plen
            if len(buf) < end:
                break
            content = buf[pos + 8:pos + 8 + clen]
            pos = end
            if rtype == STDOUT and content:
                out.append(('stdout', content))
            elif rtype == STDERR and content:
                out.append(('stderr', content))
            elif rtype == END_REQUEST:
                out.append(('end', struct.unpack('>I', content[:4])[0] if len(content) >= 4 else 0))
                break
        self.inbuf = buf[pos:]
        return out


def probe(sock, timeout):
    """Asks a backend for FCGI_MAX_CONNS (a management record): True once it answers."""
    sock.sendall(record(GET_VALUES, encode_params({'FCGI_MAX_CONNS': ''}), 0))
    p = select.poll()
    p.register(sock.fileno(), select.POLLIN)
    if not p.poll(timeout * 1000):
        return False
    data = sock.recv(4096)
    return len(data) >= 8 and data[1] == GET_VALUES_RESULT
