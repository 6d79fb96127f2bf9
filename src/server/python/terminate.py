"""Ending a process the one way kaiser's Python side does it: ask → grace → SIGKILL.

The master's loop never blocks, so a termination in progress is a record the loop keeps: `Termination(pid, ask,
grace_s)` sends the ask at once; the master's timer sees it `overdue(now)` and calls `kill()`. Used for retiring
workers (ask = SIGHUP, grace = `worker-reload-mercy`, shortened to what is left of `reload-mercy` when the master
stops). Workers share the master's process group (forked without setsid), so they are signalled by pid; the
runtime host's masters lead their own sessions and are killed by group (`kill_group`).
"""
import _signal as signal
import os
import time


def send_signal(pid, sig, group=False):
    """Signal `pid`, or the process group it leads; a process that is already gone (or, pid None, not forked yet:
    Termination.bind signals it once it is) is not an error."""
    if pid is None:
        return
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(pid):
    """SIGKILL the group `pid` leads, and `pid` itself in case it never became a group leader."""
    send_signal(pid, signal.SIGKILL, group=True)
    send_signal(pid, signal.SIGKILL)


class Termination:
    """One ask → grace → SIGKILL in progress. `ask` None: the process is already going on its own (a worker that
    retired itself at max-requests), only the grace applies."""

    __slots__ = ('pid', 'ask', 'group', 'deadline', 'killed')

    def __init__(self, pid, ask, grace_s, group=False, now=None):
        self.pid = pid
        self.ask = ask
        self.group = group
        self.killed = False
        self.deadline = (time.monotonic() if now is None else now) + grace_s
        if ask is not None:
            send_signal(pid, ask, group)

    def bind(self, pid):
        """The process had no pid yet (a zygote was to fork it): it is `pid`, and gets what it was sent."""
        self.pid = pid
        if self.killed:
            send_signal(pid, signal.SIGKILL, self.group)
        elif self.ask is not None:
            send_signal(pid, self.ask, self.group)

    def shorten(self, deadline):
        """Never wait past `deadline` (the master's own mercy when it stops)."""
        if deadline < self.deadline:
            self.deadline = deadline

    def overdue(self, now):
        return not self.killed and now >= self.deadline

    def kill(self):
        self.killed = True
        send_signal(self.pid, signal.SIGKILL, self.group)
