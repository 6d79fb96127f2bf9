"""Listening sockets, bound by the master and shared by every worker.

Owns: address parsing (`host:port`, `:port` = all interfaces, `[v6]:port`, `/unix/path`,
`@abstract`), binding with the `listen` backlog, adopting sockets the emperor
passes already listening (`_inherit` = {address: fd}, from the runtime host), `chmod-socket`, `reuse-port`
(SO_REUSEPORT before bind), `so-keepalive` (SO_KEEPALIVE on accepted connections), keeping sockets across
reloads when the address is unchanged, vacuum, and the accept-queue figures for stats.
"""
import os
import _socket as socket
import stat
import struct

from . import log


class Listener:
    __slots__ = ('sock', 'fd', 'proto', 'addr', 'name', 'unix_path', 'family', 'server_name', 'server_port',
                 'backlog', 'keepalive', 'nodelay')

    def __init__(self, sock, proto, addr, name, unix_path, server_name, server_port, backlog):
        self.sock = sock
        self.fd = sock.fileno()
        self.proto = proto
        self.addr = addr
        self.name = name
        self.unix_path = unix_path
        self.family = sock.family
        self.server_name = server_name
        self.server_port = server_port
        self.backlog = backlog
        self.keepalive = False      # so-keepalive: SO_KEEPALIVE on each accepted TCP connection (set by bind_all)
        # TCP_NODELAY set once on the listener: Linux copies it into every connection accept() returns, which saves
        # a setsockopt() per connection (and a GIL hand-over per connection in a threaded worker).
        self.nodelay = False
        if self.family != socket.AF_UNIX:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.nodelay = True
            except OSError:
                pass

    def key(self):
        return (self.proto, self.addr)

    def queue(self):
        """(current accept queue, max queue) of a TCP listener, from TCP_INFO (0, backlog otherwise)."""
        if self.family in (socket.AF_INET, socket.AF_INET6):
            try:
                info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
                unacked, sacked = struct.unpack_from('<II', info, 24)
                return unacked, sacked
            except (OSError, struct.error, AttributeError):
                pass
        return 0, self.backlog

    def accept_client(self):
        """(non-blocking connection socket, peer address) of a pending connection, or None when there is none;
        OSError when accept() fails (EBADF/ENOTSOCK: the listener was just parked by a retiring worker; EMFILE…). A
        WSGI request core accepts by itself (core.py: a blocking socket, all its I/O with MSG_DONTWAIT)."""
        try:
            fd, addr = self.sock._accept()
        except (BlockingIOError, InterruptedError):
            return None
        return self.client(fd), addr

    def client(self, fd, nonblocking=True):
        """The connection socket of `fd`, just accepted on this listener: non-blocking unless asked otherwise,
        TCP_NODELAY on TCP (inherited from the listener where it could be set there), and SO_KEEPALIVE with
        so-keepalive, as uWSGI sets it on accepted connections."""
        sock = socket.socket(self.family, socket.SOCK_STREAM, 0, fd)
        if nonblocking:
            sock.setblocking(False)
        if self.family != socket.AF_UNIX and (self.keepalive or not self.nodelay):
            try:
                if not self.nodelay:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass
        return sock

    def close(self, vacuum=False):
        try:
            self.sock.close()
        except OSError:
            pass
        if vacuum and self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass


def park(listeners):
    """Drops this process's hold on `listeners` without freeing their fd numbers (each becomes /dev/null): a retiring
    worker stops accepting, and no later open() in the app can land on a number its event loop still watches."""
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        for l in listeners:
            os.dup2(null, l.fd)
        os.close(null)
    except OSError:
        pass


def parse_address(addr):
    """-> (family, sockaddr) for bind()."""
    if addr.startswith('@'):
        return socket.AF_UNIX, '\0' + addr[1:]
    if addr.startswith('/') or addr.startswith('.') or ':' not in addr:
        return socket.AF_UNIX, addr
    if addr.startswith('['):
        host, _, port = addr[1:].partition(']:')
        return socket.AF_INET6, (host, int(port))
    host, _, port = addr.rpartition(':')
    if not port.isdigit():
        raise ValueError('bad port in address %r' % addr)
    return socket.AF_INET, (host or '0.0.0.0', int(port))


def bind(proto, addr, cfg, index):
    inherited = (cfg.get('_inherit') or {}).pop(addr, None)
    if inherited is not None:
        return adopt(proto, addr, int(inherited), index)
    family, sa = parse_address(addr)
    backlog = int(cfg.get('listen') or 100)
    sock = socket.socket(family, socket.SOCK_STREAM)
    unix_path = None
    try:
        if family == socket.AF_UNIX:
            if not sa.startswith('\0'):
                try:
                    if stat.S_ISSOCK(os.stat(sa).st_mode):
                        os.unlink(sa)
                except FileNotFoundError:
                    pass
                unix_path = sa
            sock.bind(sa)
            mode = _chmod(cfg)
            if unix_path and mode is not None:
                os.chmod(unix_path, mode)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if cfg.get('reuse-port'):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(sa)
        sock.listen(backlog)
        sock.setblocking(False)
    except Exception:
        sock.close()
        raise
    if family == socket.AF_UNIX:
        name = addr
        server_name, server_port = 'localhost', ''
        log.log('uwsgi socket %d bound to UNIX address %s fd %d' % (index, addr, sock.fileno()))
    else:
        host, port = sock.getsockname()[:2]
        shown_host = sa[0]
        if family == socket.AF_INET6:
            shown_host = '[%s]' % shown_host
        name = '%s:%d' % (shown_host, port) if sa[1] == 0 or not addr.startswith(':') else addr
        server_name, server_port = (sa[0] if sa[0] not in ('', '0.0.0.0', '::') else 'localhost'), str(port)
        auto = ' (port auto-assigned)' if sa[1] == 0 else ''
        log.log('uwsgi socket %d bound to TCP address %s:%d%s fd %d (%s)' % (
            index, shown_host, port, auto, sock.fileno(), proto))
    return Listener(sock, proto, addr, name, unix_path, server_name, server_port, backlog)


def adopt(proto, addr, fd, index):
    """A socket the emperor already bound and listens on (runtime host, on-demand): used as it is, never
    bound, re-listened or unlinked by vacuum (the emperor owns the address)."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    backlog = 1024
    if sock.family == socket.AF_UNIX:
        log.log('uwsgi socket %d bound to UNIX address %s fd %d (inherited)' % (index, addr, fd))
        return Listener(sock, proto, addr, addr, None, 'localhost', '', backlog)
    host, port = sock.getsockname()[:2]
    shown_host = '[%s]' % host if sock.family == socket.AF_INET6 else host
    try:
        _, sa = parse_address(addr)
        name = '%s:%d' % (shown_host, port) if sa[1] == 0 or not addr.startswith(':') else addr
        server_name = sa[0] if sa[0] not in ('', '0.0.0.0', '::') else 'localhost'
    except (ValueError, TypeError, IndexError):
        name, server_name = '%s:%d' % (shown_host, port), 'localhost'
    log.log('uwsgi socket %d bound to TCP address %s:%d fd %d (%s) (inherited)' % (index, shown_host, port, fd, proto))
    return Listener(sock, proto, addr, name, None, server_name, str(port), backlog)


def _chmod(cfg):
    from .config import chmod_mode
    return chmod_mode(cfg)


def bind_all(specs, cfg, existing=()):
    """Bind every (proto, addr) of `specs`, reusing sockets of `existing` with the same key.

    Returns (listeners, newly_bound). On failure closes what it bound and raises. `so-keepalive` of `cfg` applies to
    every listener returned (kept ones too: a reload may turn it on or off)."""
    by_key = {l.key(): l for l in existing}
    out, new = [], []
    try:
        for i, (proto, addr) in enumerate(specs):
            old = by_key.get((proto, addr))
            if old is not None:
                out.append(old)
                continue
            l = bind(proto, addr, cfg, i)
            out.append(l)
            new.append(l)
    except Exception:
        for l in new:
            l.close(vacuum=True)
        raise
    for l in out:
        l.keepalive = bool(cfg.get('so-keepalive'))
    return out, new
