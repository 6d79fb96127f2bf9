"""`offload-threads` (issue 15): big responses sent with sendfile(2) by threads of the worker, so the request core is
free for the next request while a slow client downloads, as uWSGI's offload threads do.

Owns: the offload lanes of a worker (one epoll thread each, jobs given round-robin), one job's life (non-blocking
sendfile until done, a client silent for `socket-timeout` is dropped, then a lingering close: half-close, drain what
the client still sends for at most LINGER_S, close), and waiting for the jobs at a graceful exit (`drain`).
wsgi.py hands over a file response of at least MIN_BYTES once its head is sent: the connection then closes after
the body (its head says `Connection: close`; uWSGI's http-socket closes every connection anyway), because the core
has let go of it. Smaller bodies are sent by the core itself, which the socket buffer absorbs at once.

`threading` is imported by the first Lane, not with this module: the runtime host imports this module, and an imported
`threading` runs its at-fork hook (new locks, a walk of the thread list) in every master the host forks and every
worker a master forks, each copying the host's pages it touches (issue 13: Private_Dirty per forked master and
worker ~110 kB each, bench/fork-memory.py).
"""
import os
import select
import time
import _socket as socket

MIN_BYTES = 64 * 1024
LINGER_S = 0.5
ACTIVE = [None]           # the worker's Offloader, set by `start` (wsgi.py reads it)


class Job:
    __slots__ = ('sock', 'file_fd', 'offset', 'count', 'sent', 'last', 'linger_until')

    def __init__(self, sock, file_fd, offset, count):
        self.sock = sock
        self.file_fd = file_fd
        self.offset = offset
        self.count = count
        self.sent = 0
        self.last = time.monotonic()
        self.linger_until = None


class Lane:
    """One offload thread (`thread`): its epoll over the connections it is sending to."""

    def __init__(self, idx, timeout):
        import threading    # here, not at the module's import: see the module's header
        self.thread = threading.Thread(target=self.run, name='offload %d' % idx, daemon=True)
        self.timeout = timeout
        self.ep = select.epoll()
        self.jobs = {}
        self.queue = []
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        self.ep.register(self.wake_r, select.EPOLLIN)

    def give(self, job):
        with self.lock:
            self.queue.append(job)
        os.write(self.wake_w, b'x')

    def busy(self):
        with self.lock:
            return bool(self.jobs or self.queue)

    def run(self):
        while True:
            for fd, ev in self.ep.poll(1.0):
                if fd == self.wake_r:
                    os.read(self.wake_r, 4096)
                    with self.lock:
                        new, self.queue = self.queue, []
                    for job in new:
                        self._start(job)
                    continue
                job = self.jobs.get(fd)
                if job is None:
                    continue
                if job.linger_until is None:
                    self._push(job)
                else:
                    self._drain(job)
            now = time.monotonic()
            for job in list(self.jobs.values()):
                if job.linger_until is not None:
                    if now >= job.linger_until:
                        self._close(job)
                elif now - job.last > self.timeout:
                    self._close(job)

    def _start(self, job):
        with self.lock:
            self.jobs[job.sock.fileno()] = job
        self.ep.register(job.sock.fileno(), select.EPOLLOUT)
        self._push(job)

    def _push(self, job):
        out = job.sock.fileno()
        while job.sent < job.count:
            try:
                n = os.sendfile(out, job.file_fd, job.offset + job.sent, job.count - job.sent)
            except BlockingIOError:
                return
            except OSError:
                return self._close(job)
            if n == 0:
                break
            job.sent += n
            job.last = time.monotonic()
        self._linger(job)

    def _linger(self, job):
        os.close(job.file_fd)
        job.file_fd = -1
        try:
            job.sock.shutdown(socket.SHUT_WR)
            self.ep.modify(job.sock.fileno(), select.EPOLLIN)
        except OSError:
            return self._close(job)
        job.linger_until = time.monotonic() + LINGER_S

    def _drain(self, job):
        try:
            data = job.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b''
        if not data:
            self._close(job)

    def _close(self, job):
        fd = job.sock.fileno()
        with self.lock:
            self.jobs.pop(fd, None)
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass
        if job.file_fd >= 0:
            os.close(job.file_fd)
            job.file_fd = -1
        job.sock.close()


class Offloader:
    """The offload lanes of a worker."""

    def __init__(self, n, timeout):
        self.lanes = [Lane(i, timeout) for i in range(n)]
        self.next = 0
        for lane in self.lanes:
            lane.thread.start()

    def sendfile(self, sock_fd, file_fd, offset, count):
        """Sends `count` bytes of `file_fd` from `offset` to the connection `sock_fd` and closes it; both fds stay the
        caller's (they are duplicated)."""
        sock = socket.socket(fileno=os.dup(sock_fd))
        sock.setblocking(False)     # a request core keeps its connections in blocking mode (it uses MSG_DONTWAIT)
        job = Job(sock, os.dup(file_fd), offset, count)
        lane = self.lanes[self.next % len(self.lanes)]
        self.next += 1
        lane.give(job)

    def drain(self, within):
        """Waits (at most `within` seconds) for the transfers in flight: a graceful exit lets them finish."""
        deadline = time.monotonic() + within
        while any(lane.busy() for lane in self.lanes) and time.monotonic() < deadline:
            time.sleep(0.05)


def start(cfg):
    """The worker's Offloader when `offload-threads` is set (WSGI workers), else None."""
    n = int(cfg.get('offload-threads') or 0)
    if n <= 0:
        return None
    ACTIVE[0] = Offloader(n, cfg.get('socket-timeout') or 4.0)
    return ACTIVE[0]
