"""The master's end of the emperor pipe (docs/runtime-protocol.md §2): the bytes, named, and their framing.

Owns: the byte values both ways (the same names as src/protocol/emperor-pipe.ts; a unit test keeps them equal), the
framed `115` config packets (E→V) and `116` event packets (V→E), reading the stream into messages, and EOF.
"""
import os
import struct

from . import minijson
from .nonblocking import drain


class TO_VASSAL:
    """Bytes the emperor sends."""
    STOP = 0
    RELOAD = 1
    GRACEFUL_STOP = 2
    STATS = 3             # kaiser extension: answered with a 116 `stats` event
    CONFIG = 115          # + u32le N + N bytes of KAISER_CONFIG JSON, applied by the next RELOAD


class FROM_VASSAL:
    """Bytes the master sends."""
    SPAWNED = 1
    CONFIG_REQUEST = 2
    ACCEPTING = 5
    LOYAL = 17
    VOLUNTARY_STOP = 22   # an idle on-demand vassal going back to sleep (uWSGI's die-on-idle)
    HEARTBEAT = 26
    EVENT = 116           # + u32le N + N bytes of event JSON


EOF_MESSAGE = -1          # read(): the emperor closed its end
_LENGTH = struct.Struct('<I')


class EmperorPipe:
    def __init__(self, fd):
        self.fd = fd
        os.set_inheritable(fd, False)
        os.set_blocking(fd, False)
        self.buf = b''

    def send(self, byte):
        self._write(bytes((byte,)))

    def event(self, obj):
        data = minijson.dumps(obj).encode()
        self._write(bytes((FROM_VASSAL.EVENT,)) + _LENGTH.pack(len(data)) + data)

    def _write(self, data):
        try:
            os.set_blocking(self.fd, True)
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        except OSError:
            pass
        finally:
            try:
                os.set_blocking(self.fd, False)
            except OSError:
                pass

    def read(self):
        """Everything readable now -> [(byte, payload)]: payload is the config text for TO_VASSAL.CONFIG, else
        None; (EOF_MESSAGE, None) once the emperor is gone. A config packet that is not UTF-8 is
        dropped."""
        data, eof = drain(self.fd)
        if eof:
            # What came with the EOF is not acted on: the emperor is gone, the master dies with it.
            return [(EOF_MESSAGE, None)]
        self.buf += data
        return self._decode()

    def _decode(self):
        out = []
        buf = self.buf
        while buf:
            byte = buf[0]
            if byte != TO_VASSAL.CONFIG:
                out.append((byte, None))
                buf = buf[1:]
                continue
            if len(buf) < 5:
                break
            n = _LENGTH.unpack_from(buf, 1)[0]
            if len(buf) < 5 + n:
                break
            try:
                out.append((byte, buf[5:5 + n].decode('utf-8')))
            except UnicodeDecodeError:
                pass
            buf = buf[5 + n:]
        self.buf = buf
        return out
