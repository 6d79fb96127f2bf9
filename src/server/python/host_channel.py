"""The runtime host's end of the Node IPC channel to the emperor (docs/runtime-protocol.md §5).

Node's `serialization: 'json'` channel: newline-delimited JSON over a unix socket; a file descriptor travels with
SCM_RIGHTS in a `{"cmd":"NODE_HANDLE", "msg": …}` line, and the receiver answers `{"cmd":"NODE_HANDLE_ACK"}`
before the sender may pass the next one. Owns: the ordered send queue that waits for each ACK before the next
handle, acknowledging the handles we receive, pairing received fds with their NODE_HANDLE lines, and EOF.
"""
import json
import os
import select
import socket
import sys

ACK_LINE = b'{"cmd":"NODE_HANDLE_ACK"}\n'
EOF_MESSAGES = None     # receive(): the emperor is gone


class Channel:
    def __init__(self, fd, ep):
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self.ep = ep
        self.inbuf = b''
        self.infds = []              # fds received, in order, not yet claimed by a NODE_HANDLE line
        self.outq = []               # [bytes, fd or None]
        self.awaiting_ack = False
        self.want_out = False
        ep.register(self.fd, select.EPOLLIN)

    # ── out ─────────────────────────────────────────────────────────────────────────────────────
    def send(self, obj, fd=None):
        """Queues `obj` (with `fd` as a NODE_HANDLE; the fd is closed once the kernel holds it) and writes what it can."""
        if fd is not None:
            obj = {'cmd': 'NODE_HANDLE', 'type': 'net.Native', 'msg': obj}
        self.outq.append([(json.dumps(obj, separators=(',', ':')) + '\n').encode(), fd])
        self.flush()

    def flush(self):
        while self.outq and not self.awaiting_ack:
            item = self.outq[0]
            data, fd = item
            try:
                if fd is not None:
                    n = self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
                else:
                    n = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.outq = []       # the emperor is gone: the reader sees EOF
                return
            if fd is not None:
                os.close(fd)         # the kernel holds it in the message now
                item[1] = None
            if n < len(data):
                item[0] = data[n:]
                continue
            self.outq.pop(0)
            if fd is not None:
                self.awaiting_ack = True
        want = bool(self.outq) and not self.awaiting_ack
        if want != self.want_out:
            self.want_out = want
            self.ep.modify(self.fd, select.EPOLLIN | (select.EPOLLOUT if want else 0))

    def _ack(self):
        # An ACK carries no handle, so it may jump the queue: the peer waits for it.
        try:
            self.sock.send(ACK_LINE)
        except (BlockingIOError, InterruptedError):
            self.outq.insert(0, [ACK_LINE, None])
            self.flush()
        except OSError:
            pass

    # ── in ──────────────────────────────────────────────────────────────────────────────────────
    def receive(self, on_bad_line):
        """Everything readable now -> [(message dict, fd or None)], or EOF_MESSAGES once the emperor is gone.
        NODE_HANDLE lines are acknowledged and unwrapped; the channel's own NODE_ lines are consumed here."""
        while True:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data, anc = b'', []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    n = len(payload) - len(payload) % 4
                    self.infds += [int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, n, 4)]
            if not data:
                return EOF_MESSAGES
            self.inbuf += data
        *lines, self.inbuf = self.inbuf.split(b'\n')
        out = []
        for line in lines:
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                on_bad_line(line)
                continue
            if not isinstance(msg, dict):
                continue
            cmd = msg.get('cmd')
            fd = None
            if cmd == 'NODE_HANDLE':
                fd = self.infds.pop(0) if self.infds else None
                self._ack()
                msg = msg.get('msg')
                if not isinstance(msg, dict):
                    if fd is not None:
                        os.close(fd)
                    continue
            elif cmd == 'NODE_HANDLE_ACK':
                self.awaiting_ack = False
                self.flush()
                continue
            elif isinstance(cmd, str) and cmd.startswith('NODE_'):
                continue
            out.append((msg, fd))
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
