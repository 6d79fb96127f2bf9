"""Signals to the master: a self-pipe (`signal.set_wakeup_fd`) turns each one into a byte the event loop reads, and
one map says what each does (docs/runtime-protocol.md §4):

   SIGHUP   graceful reload (the emperor is asked for the newest config first)
   SIGTERM  graceful stop (ignored while stopping)
   SIGINT   graceful stop; a second one while stopping is brutal
   SIGQUIT  brutal stop
   SIGCHLD  reap exited workers
   SIGUSR1  the stats document to the log
"""
import _signal as signal
import os

from . import log
from .phase import STOPPING

HANDLED = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR1)


class SignalPipe:
    """The self-pipe: Python's C-level handler writes the signal number to `wake_w`; the loop reads `wake_r`."""

    def __init__(self):
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in HANDLED:
            signal.signal(sig, _noop)

    def fds(self):
        return [self.wake_r, self.wake_w]

    def drain(self):
        """The signal numbers received since the last call, in order."""
        try:
            return os.read(self.wake_r, 512)
        except BlockingIOError:
            return b''


def dispatch(master, signums):
    for sig in signums:
        action = ACTIONS.get(sig)
        if action is not None:
            action(master)


def _on_hup(master):
    log.log('SIGHUP received: graceful reload')
    master.reloader.request(None)


def _on_term(master):
    if master.phase != STOPPING:
        master.graceful_stop()


def _on_int(master):
    if master.phase == STOPPING:
        master.brutal_stop(master.exit_code)
    else:
        master.graceful_stop()


def _on_quit(master):
    log.log('SIGQUIT received: brutal stop')
    master.brutal_stop(0)


ACTIONS = {
    signal.SIGCHLD: lambda master: master.pool.reap(),
    signal.SIGHUP: _on_hup,
    signal.SIGTERM: _on_term,
    signal.SIGINT: _on_int,
    signal.SIGQUIT: _on_quit,
    signal.SIGUSR1: lambda master: master.log_stats(),
}


def _noop(signum, frame):
    pass
