"""kaiser runtime host (zygote): one per emperor, forks app-server masters on request.

Run as `python3 host.py` by the emperor with a Node IPC channel (host_channel.py); the protocol is
docs/runtime-protocol.md §5. The host imports the whole runtime (master, worker, wsgi modules) once and freezes the
GC, then forks (host_fork.py): every master and its workers share the interpreter heap copy-on-write with the host
and with each other, and a spawn costs a fork instead of an interpreter start.

Owns: the ops the emperor sends (spawn, socket, bind, close-socket, arm, disarm), the listening sockets held for the
emperor (an armed socket wakes the emperor on its first connection: on-demand vassals), reaping and reporting
exits, and killing every group it spawned when the emperor is gone (channel EOF).
"""
import _kaiser_bootstrap  # noqa: F401  (first: registers the package `_kaiser`)

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from _kaiser import host_fork  # noqa: E402  (before any handler is installed: it records the original ones)
import gc  # noqa: E402
import select  # noqa: E402
import socket  # noqa: E402
import traceback  # noqa: E402

from _kaiser.host_channel import EOF_MESSAGES, Channel  # noqa: E402
from _kaiser.nonblocking import exited_children  # noqa: E402
from _kaiser.terminate import kill_group  # noqa: E402
# The whole runtime, imported once here so every fork shares it.
from _kaiser import config as _config, log as _log, sockets as _sockets, pool as _pool  # noqa: E402,F401
from _kaiser import worker as _worker, core as _core, wsgi as _wsgi, loader as _loader  # noqa: E402,F401
from _kaiser import emperor_pipe as _emperor_pipe, scoreboard as _scoreboard, http as _http  # noqa: E402,F401
from _kaiser import uwsgi_proto as _uwsgi_proto, minijson as _minijson, stats as _stats, fifo as _fifo  # noqa: E402,F401
from _kaiser import emperor_link as _emperor_link, controls as _controls  # noqa: E402,F401
from _kaiser import procname as _procname  # noqa: E402
# ... and what a master and its WSGI workers import at run time (log.setup, heap.trim, Worker.run): a module first
# imported after the fork is a private copy in every vassal (issue 13: 9.6 MiB PSS per hello vassal at N=20, 7.0 with
# these). test_host.ForkedImports fails when a plain master or worker imports a module the host did not.
from _kaiser import loggers as _loggers, heap as _heap, uwsgi_module as _uwsgi_module  # noqa: E402,F401
from _kaiser import front as _front, mounts as _mounts, static_files as _static_files  # noqa: E402,F401
from _kaiser import client_io as _client_io, offload as _offload  # noqa: E402,F401
from _kaiser import code_layout as _code_layout  # noqa: E402

LISTEN_BACKLOG = 1024


def log(msg):
    try:
        os.write(2, ('%s\n' % msg).encode('utf-8', 'replace'))
    except OSError:
        pass


class Host:
    def __init__(self, fd):
        self.ep = select.epoll()
        self.channel = Channel(fd, self.ep)
        self.sockets = {}            # key → fd (listening)
        self.armed = set()           # keys
        self.by_fd = {}              # fd → key, for armed sockets
        self.children = {}           # pid → vassal id
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _noop)
        # Stopped by the emperor closing the channel, not by signals meant for the emperor's group.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(s, signal.SIG_IGN)
        self.ep.register(self.wake_r, select.EPOLLIN)

    def send(self, obj, fd=None):
        self.channel.send(obj, fd)

    def on_channel(self):
        messages = self.channel.receive(lambda line: log('bad message from the emperor: %r' % line[:200]))
        if messages is EOF_MESSAGES:
            return self.emperor_gone()
        for msg, fd in messages:
            try:
                self.handle(msg, fd)
            except Exception as e:
                log('error handling %r: %s' % (msg.get('op'), traceback.format_exc()))
                self.send({'ev': 'error', 'id': msg.get('id'), 'message': str(e)})

    # ── ops ─────────────────────────────────────────────────────────────────────────────────────
    def handle(self, msg, fd):
        op = msg.get('op')
        if op == 'spawn':
            return self.spawn(msg)
        key = msg.get('key')
        if op == 'socket':
            return self.adopt(key, fd)
        if fd is not None:
            os.close(fd)
        handler = OPS.get(op)
        if handler is None:
            raise ValueError('unknown op %r' % op)
        handler(self, key)

    def adopt(self, key, fd):
        """A socket the emperor bound: listen on it and keep it for the masters that will inherit it."""
        if fd is None:
            raise ValueError('socket %s: no file descriptor received' % key)
        os.set_inheritable(fd, False)
        s = socket.socket(fileno=fd)
        try:
            s.listen(LISTEN_BACKLOG)
        finally:
            s.detach()
        self.hold(key, fd)

    def bind(self, key):
        """Binds and listens on `key` (tcp://HOST:PORT or unix:/path) itself: on-demand app-server sockets need no
        copy in the emperor, and creating them here saves one fd-passing round trip per socket."""
        s = None
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
            s.listen(LISTEN_BACKLOG)
        except OSError as e:
            if s is not None:
                s.close()
            reason = os.strerror(e.errno) if e.errno else str(e)
            self.send({'ev': 'bind-failed', 'key': key, 'error': '%s (%s)' % (reason, key)})
            return
        fd = s.detach()
        os.set_inheritable(fd, False)
        self.hold(key, fd)

    def hold(self, key, fd):
        self.close_socket(key)
        self.sockets[key] = fd
        # The emperor waits for this before it lets anyone rely on the socket accepting connections.
        self.send({'ev': 'listening', 'key': key})

    def close_socket(self, key):
        self.disarm(key)
        fd = self.sockets.pop(key, None)
        if fd is not None:
            os.close(fd)

    def arm(self, key):
        fd = self.sockets.get(key)
        if fd is None:
            raise ValueError('arm: unknown socket %s' % key)
        if key not in self.armed:
            self.armed.add(key)
            self.by_fd[fd] = key
            self.ep.register(fd, select.EPOLLIN)

    def disarm(self, key):
        if key in self.armed:
            self.armed.discard(key)
            fd = self.sockets[key]
            self.by_fd.pop(fd, None)
            try:
                self.ep.unregister(fd)
            except OSError:
                pass

    def on_wake(self, fd):
        key = self.by_fd.get(fd)
        if key is None:
            return
        self.disarm(key)
        self.send({'ev': 'wake', 'key': key})

    # ── children ────────────────────────────────────────────────────────────────────────────────
    def spawn(self, msg):
        vid = msg.get('id')
        inherit = {}
        for address, key in (msg.get('inherit') or {}).items():
            fd = self.sockets.get(key)
            if fd is None:
                raise ValueError('spawn: unknown socket %s' % key)
            inherit[address] = fd
        pid, out_fd, pipe_fd = host_fork.fork_master(msg, inherit, self.close_in_child)
        self.children[pid] = vid
        self.send({'ev': 'spawned', 'id': vid, 'pid': pid, 'stream': 'output'}, out_fd)
        self.send({'ev': 'spawned', 'id': vid, 'pid': pid, 'stream': 'pipe'}, pipe_fd)

    def close_in_child(self):
        self.ep.close()
        self.channel.close()

    def reap(self):
        for pid, status in exited_children():
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
            kill_group(pid)
        os._exit(0)

    # ── loop ────────────────────────────────────────────────────────────────────────────────────
    def run(self):
        _procname.set_title(_procname.title_for(None, 'host'))
        share_with_forks()
        self.send({'ev': 'ready', 'pid': os.getpid()})
        channel_fd = self.channel.fd
        while True:
            try:
                events = self.ep.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == channel_fd:
                    if ev & select.EPOLLOUT:
                        self.channel.flush()
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


OPS = {
    'bind': Host.bind,
    'close-socket': Host.close_socket,
    'arm': Host.arm,
    'disarm': Host.disarm,
}


def share_with_forks():
    """What every forked master reuses, done once before the first fork: the argv area (procname.py), ctypes'
    malloc_trim (heap.py), the compiler's set-up, the code a vassal runs laid out together (code_layout.py), and the
    heap frozen out of the GC (a collection in a fork would otherwise write to every object's header, copying the
    pages it shares with the host)."""
    _procname.argv_area()
    _heap.prepare()
    # A process's first compile() sets the parser and compiler up: done here, it is shared, where a worker compiling
    # its app (and a master) made its own (issue 13, bench/fork-memory.py: Private_Dirty per forked worker ~-400 kB,
    # per master ~-80 kB).
    compile('', '<kaiser host>', 'exec')
    _code_layout.lay_out()
    gc.collect()
    gc.freeze()


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
