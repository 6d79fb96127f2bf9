"""kaiser runtime host (zygote): one per emperor, forks app-server masters on request.

Run as `python3 host.py` by the emperor with a Node IPC channel (NODE_CHANNEL_FD, serialization
'json': newline-delimited JSON, fds passed with SCM_RIGHTS in `NODE_HANDLE` messages); the
protocol is docs/runtime-protocol.md §5. The host imports the whole runtime (master, worker, wsgi
modules) once and freezes the GC, then forks: every master and its workers share the interpreter
heap copy-on-write with the host and with each other, and a spawn costs a fork instead of an
interpreter start.

Owns: the IPC channel (reading, the NODE_HANDLE / ACK handshake, an ordered send queue that waits
for each ACK before the next handle), listening sockets held for the emperor (listen, waker:
arm/disarm/wake), forking a master (setsid, fds, signals, cgroups, uid/gid, environment, inherited sockets),
reaping and reporting exits, and killing every group it spawned when the emperor is gone.
"""
import os
import sys


def _bootstrap():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or '.') == here:
        del sys.path[0]
    import types
    pkg = types.ModuleType('_kaiser')
    pkg.__path__ = [here]
    pkg.__file__ = os.path.join(here, '__init__.py')
    sys.modules['_kaiser'] = pkg
    return here


HERE = _bootstrap()

# Dispositions a fresh interpreter starts with, restored in every forked master.
import signal  # noqa: E402
_ORIGINAL = {}
for _s in signal.valid_signals():
    try:
        _ORIGINAL[_s] = signal.getsignal(_s)
    except (OSError, ValueError):
        pass

import gc  # noqa: E402
import json  # noqa: E402
import select  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

# The whole runtime, imported once here so every fork shares it.
from _kaiser import master as _master  # noqa: E402
from _kaiser import config as _config, log as _log, sockets as _sockets, pool as _pool  # noqa: E402,F401
from _kaiser import worker as _worker, core as _core, wsgi as _wsgi, loader as _loader  # noqa: E402,F401
from _kaiser import emperor_pipe as _emperor_pipe, scoreboard as _scoreboard, http as _http  # noqa: E402,F401
from _kaiser import uwsgi_proto as _uwsgi_proto, minijson as _minijson, stats as _stats, fifo as _fifo  # noqa: E402,F401

MASTER_PY = os.path.join(HERE, 'master.py')
STRIP_ENV = ('NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_UNIQUE_ID', 'UWSGI_EMPEROR_FD')


def log(msg):
    try:
        os.write(2, ('%s\n' % msg).encode('utf-8', 'replace'))
    except OSError:
        pass


class Host:
    def __init__(self, fd):
        self.ch = socket.socket(fileno=fd)
        self.ch.setblocking(False)
        self.fd = self.ch.fileno()
        self.ep = select.epoll()
        self.inbuf = b''
        self.infds = []              # fds received, in order, not yet claimed by a NODE_HANDLE line
        self.outq = []               # [bytes, fd or None]
        self.awaiting_ack = False
        self.want_out = False
        self.sockets = {}            # key → fd (listening)
        self.armed = set()           # keys
        self.by_fd = {}              # fd → key, for armed sockets
        self.children = {}           # pid → id
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _noop)
        # Stopped by the emperor closing the channel, not by signals meant for the emperor's group.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(s, signal.SIG_IGN)
        self.ep.register(self.fd, select.EPOLLIN)
        self.ep.register(self.wake_r, select.EPOLLIN)

    # ── channel out ─────────────────────────────────────────────────────────────────────────
    def send(self, obj, fd=None):
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
                    n = self.ch.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
                else:
                    n = self.ch.send(data)
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

    # ── channel in ──────────────────────────────────────────────────────────────────────────
    def on_channel(self):
        while True:
            try:
                data, anc, _flags, _addr = self.ch.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data, anc = b'', []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    n = len(payload) - len(payload) % 4
                    self.infds += [int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, n, 4)]
            if not data:
                return self.emperor_gone()
            self.inbuf += data
        *lines, self.inbuf = self.inbuf.split(b'\n')
        for line in lines:
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                log('bad message from the emperor: %r' % line[:200])
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
            try:
                self.handle(msg, fd)
            except Exception as e:
                log('error handling %r: %s' % (msg.get('op'), traceback.format_exc()))
                self.send({'ev': 'error', 'id': msg.get('id'), 'message': str(e)})

    def _ack(self):
        # An ACK carries no handle, so it may jump the queue: the peer waits for it.
        try:
            self.ch.send(b'{"cmd":"NODE_HANDLE_ACK"}\n')
        except (BlockingIOError, InterruptedError):
            self.outq.insert(0, [b'{"cmd":"NODE_HANDLE_ACK"}\n', None])
            self.flush()
        except OSError:
            pass

    def handle(self, msg, fd):
        op = msg.get('op')
        if op == 'spawn':
            return self.spawn(msg)
        key = msg.get('key')
        if op == 'socket':
            if fd is None:
                raise ValueError('socket %s: no file descriptor received' % key)
            os.set_inheritable(fd, False)
            s = socket.socket(fileno=fd)
            try:
                s.listen(1024)
            finally:
                s.detach()
            self.close_socket(key)
            self.sockets[key] = fd
            # The emperor waits for this before it lets anyone rely on the socket accepting connections.
            self.send({'ev': 'listening', 'key': key})
            return
        if fd is not None:
            os.close(fd)
        if op == 'bind':
            return self.bind(key)
        if op == 'close-socket':
            return self.close_socket(key)
        if op == 'arm':
            fd = self.sockets.get(key)
            if fd is None:
                raise ValueError('arm: unknown socket %s' % key)
            if key not in self.armed:
                self.armed.add(key)
                self.by_fd[fd] = key
                self.ep.register(fd, select.EPOLLIN)
            return
        if op == 'disarm':
            return self.disarm(key)
        raise ValueError('unknown op %r' % op)

    def disarm(self, key):
        if key in self.armed:
            self.armed.discard(key)
            fd = self.sockets[key]
            self.by_fd.pop(fd, None)
            try:
                self.ep.unregister(fd)
            except OSError:
                pass

    def bind(self, key):
        """Binds and listens on `key` (tcp://HOST:PORT or unix:/path) itself: on-demand app-server sockets need no
        copy in the emperor, and creating them here saves one fd-passing round trip per socket."""
        try:
            if key.startswith('unix:'):
                path = key[5:]
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    os.unlink(path)
                except OSError:
                    pass
                s.bind(path)
            else:
                host, _, port = key[len('tcp://'):].rpartition(':')
                host = host.strip('[]') or '0.0.0.0'
                family = socket.AF_INET6 if ':' in host else socket.AF_INET
                s = socket.socket(family, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, int(port)))
            s.listen(1024)
        except OSError as e:
            try:
                s.close()
            except Exception:
                pass
            self.send({'ev': 'bind-failed', 'key': key, 'error': '%s (%s)' % (os.strerror(e.errno) if e.errno else str(e), key)})
            return
        fd = s.detach()
        os.set_inheritable(fd, False)
        self.close_socket(key)
        self.sockets[key] = fd
        self.send({'ev': 'listening', 'key': key})

    def close_socket(self, key):
        self.disarm(key)
        fd = self.sockets.pop(key, None)
        if fd is not None:
            os.close(fd)

    def on_wake(self, fd):
        key = self.by_fd.get(fd)
        if key is None:
            return
        self.disarm(key)
        self.send({'ev': 'wake', 'key': key})

    # ── children ────────────────────────────────────────────────────────────────────────────
    def spawn(self, msg):
        vid = msg.get('id')
        inherit = {}
        for address, key in (msg.get('inherit') or {}).items():
            fd = self.sockets.get(key)
            if fd is None:
                raise ValueError('spawn: unknown socket %s' % key)
            inherit[address] = fd
        out_p, out_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pipe_p, pipe_c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_p, out_c, pipe_p, pipe_c = out_p.detach(), out_c.detach(), pipe_p.detach(), pipe_c.detach()
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = self.child(msg, out_c, pipe_c, inherit)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                try:
                    os.write(2, ('kaiser host: cannot start the master:\n%s' % traceback.format_exc()).encode())
                except OSError:
                    pass
            finally:
                os._exit(code if isinstance(code, int) else 1)
        os.close(out_c)
        os.close(pipe_c)
        self.children[pid] = vid
        self.send({'ev': 'spawned', 'id': vid, 'pid': pid, 'stream': 'output'}, out_p)
        self.send({'ev': 'spawned', 'id': vid, 'pid': pid, 'stream': 'pipe'}, pipe_p)

    def child(self, msg, out_fd, pipe_fd, inherit):
        """In the forked child: become a fresh master process, then run the master in-process."""
        os.setsid()
        signal.set_wakeup_fd(-1)
        for s, h in _ORIGINAL.items():
            try:
                signal.signal(s, h if h is not None else signal.SIG_DFL)
            except (OSError, ValueError, TypeError):
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        self.join_cgroups(msg.get('cgroup_procs') or [])
        self.drop_privileges(msg.get('uid'), msg.get('gid'))
        keep = {0, 1, 2, pipe_fd} | set(inherit.values())
        self.ep.close()
        try:
            self.ch.close()
        except OSError:
            pass
        for name in os.listdir('/proc/self/fd'):
            fd = int(name)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.set_inheritable(pipe_fd, False)
        env = {str(k): str(v) for k, v in (msg.get('env') or {}).items()}
        for k in STRIP_ENV:
            env.pop(k, None)
        config = dict(msg.get('config') or {})
        env['KAISER_CONFIG'] = json.dumps(config)
        env['UWSGI_EMPEROR_FD'] = str(pipe_fd)
        os.environ.clear()
        os.environ.update(env)
        if 'TZ' in env:
            time.tzset()
        for p in reversed([p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]):
            if p not in sys.path:
                sys.path.insert(0, p)
        sys.argv = [MASTER_PY]
        os.chdir(msg.get('cwd') or '/')
        if inherit:
            config['_inherit'] = inherit
        return _master.main(config)

    @staticmethod
    def join_cgroups(procs_files):
        """memory-limit / cpu-limit: join the vassal's cgroups (as root) before the master or a worker exists."""
        pid = str(os.getpid())
        for path in procs_files:
            # An error propagates: the master must not run outside its limits (the emperor sees exit 1 before ready).
            with open(path, 'w') as f:
                f.write(pid)

    @staticmethod
    def drop_privileges(uid, gid):
        """uid/gid and tyrant mode: groups first, then the gid, then the uid (after which nothing can be changed back)."""
        if uid is None and gid is None:
            return
        os.setgroups([])
        if gid is not None:
            os.setgid(int(gid))
        if uid is not None:
            os.setuid(int(uid))
        if (uid is not None and os.getuid() != int(uid)) or (gid is not None and os.getgid() != int(gid)):
            raise RuntimeError('privileges not dropped: uid %d gid %d' % (os.getuid(), os.getgid()))

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            vid = self.children.pop(pid, None)
            if vid is None:
                continue
            code = sig = None
            if os.WIFSIGNALED(status):
                try:
                    sig = signal.Signals(os.WTERMSIG(status)).name
                except ValueError:
                    sig = 'SIG%d' % os.WTERMSIG(status)
            else:
                code = os.waitstatus_to_exitcode(status)
            self.send({'ev': 'exit', 'id': vid, 'pid': pid, 'code': code, 'signal': sig})

    def emperor_gone(self):
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    # ── loop ────────────────────────────────────────────────────────────────────────────────
    def run(self):
        gc.collect()
        gc.freeze()
        self.send({'ev': 'ready', 'pid': os.getpid()})
        while True:
            try:
                events = self.ep.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == self.fd:
                    if ev & select.EPOLLOUT:
                        self.flush()
                    if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                        self.on_channel()
                elif fd == self.wake_r:
                    try:
                        os.read(self.wake_r, 512)
                    except BlockingIOError:
                        pass
                    self.reap()
                else:
                    self.on_wake(fd)
            self.reap()


def _noop(signum, frame):
    pass


def main():
    fd = os.environ.pop('NODE_CHANNEL_FD', None)
    os.environ.pop('NODE_CHANNEL_SERIALIZATION_MODE', None)
    if fd is None:
        log('kaiser host: no NODE_CHANNEL_FD: run me from the emperor')
        sys.exit(2)
    Host(int(fd)).run()


if __name__ == '__main__':
    main()
