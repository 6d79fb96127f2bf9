"""The master FIFO (`master-fifo`): one-byte commands written by operators.

Owns: creating the FIFO (replacing a stale file), opening it read-write and non-blocking
(so a writer closing it never leaves an EOF condition to spin on: no reopen needed), and
turning bytes into commands: r reload, c chain reload, q graceful stop, Q brutal stop,
R brutal reload (treated as graceful), s log stats, + / - one worker more / less (cheaper), C cheap mode now.
"""
import os
import stat

COMMANDS = {b'r'[0]: 'reload', b'R'[0]: 'reload', b'c'[0]: 'chain-reload', b'q'[0]: 'graceful-stop',
            b'Q'[0]: 'stop', b's'[0]: 'stats', b'w'[0]: 'reload', b'W'[0]: 'reload', b'+'[0]: 'cheaper-add',
            b'-'[0]: 'cheaper-remove', b'C'[0]: 'go-cheap'}


class Fifo:
    def __init__(self, path):
        self.path = path
        try:
            st = os.lstat(path)
            if not stat.S_ISFIFO(st.st_mode):
                os.unlink(path)
                os.mkfifo(path, 0o600)
        except FileNotFoundError:
            os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    def read(self):
        out = []
        while True:
            try:
                d = os.read(self.fd, 4096)
            except (BlockingIOError, InterruptedError):
                break
            if not d:
                break
            for b in d:
                cmd = COMMANDS.get(b)
                if cmd:
                    out.append(cmd)
        return out

    def close(self, vacuum=False):
        try:
            os.close(self.fd)
        except OSError:
            pass
        if vacuum:
            try:
                os.unlink(self.path)
            except OSError:
                pass
