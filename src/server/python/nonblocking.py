"""Reading what a non-blocking pipe or socket holds right now, and reaping exited children without waiting: the two
loops the master, its workers' status pipes, the emperor pipe and the runtime host all need."""
import os

CHUNK = 65536


def drain(fd):
    """Everything readable on `fd` now -> (bytes, at EOF). A read error counts as EOF (the peer is gone)."""
    parts = []
    while True:
        try:
            d = os.read(fd, CHUNK)
        except BlockingIOError:
            return b''.join(parts), False
        except OSError:
            d = b''
        if not d:
            return b''.join(parts), True
        parts.append(d)


def exited_children():
    """(pid, wait status) of every child that has exited, without blocking."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status
