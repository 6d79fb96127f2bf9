"""The master's end of the emperor pipe (docs/runtime-protocol.md §2).

Owns: the single-byte messages both ways, the framed `115` config packets (E→V) and `116`
event packets (V→E), and EOF detection.
"""
import os
import struct

from . import minijson

SPAWNED, ACCEPTING, LOYAL, HEARTBEAT, WANT_CONFIG = 1, 5, 17, 26, 2


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
        self._write(b't' + struct.pack('<I', len(data)) + data)   # 116 = 't'

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
        """-> list of ('stop'|'reload'|'graceful-stop'|'stats'|'eof', None) or ('config', dict)."""
        out = []
        while True:
            try:
                d = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                d = b''
            if not d:
                out.append(('eof', None))
                return out
            self.buf += d
        buf = self.buf
        while buf:
            b = buf[0]
            if b == 115:
                if len(buf) < 5:
                    break
                n = struct.unpack_from('<I', buf, 1)[0]
                if len(buf) < 5 + n:
                    break
                try:
                    out.append(('config', buf[5:5 + n].decode('utf-8')))
                except UnicodeDecodeError:
                    pass
                buf = buf[5 + n:]
                continue
            buf = buf[1:]
            if b == 0:
                out.append(('stop', None))
            elif b == 1:
                out.append(('reload', None))
            elif b == 2:
                out.append(('graceful-stop', None))
            elif b == 3:
                out.append(('stats', None))
        self.buf = buf
        return out
