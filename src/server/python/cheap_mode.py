r"""Cheap mode and idleness: uWSGI's `cheap`, `idle` and `die-on-idle` in the master.

Owns: whether the master runs workers at all, the idle watch (no request and nothing in flight for `idle` seconds,
as uWSGI's uwsgi_master_check_idle), and what idleness leads to. In cheap mode the master has no worker; it watches
its listening sockets itself and spawns workers on the first connection (it accepts nothing: the connection waits
in the kernel's queue for the first worker), as uWSGI does.

   (start) ──cheap = true──────────────────────► cheap ──CONNECTION──► serving
   (start) ────────────────────────────────────► serving ──IDLE──► cheap              (idle S, no die-on-idle)
   serving ──IDLE, die-on-idle or on-demand────► (stop)      byte 22 to the emperor, then a graceful stop

   CONNECTION  a listening socket is readable: spawn `cheaper` workers with cheaper, else `processes`
   IDLE        `idle` seconds without a request, none in flight (or `C` on the master FIFO): every worker retires
               gracefully (SIGHUP)

An on-demand vassal (the emperor holds its socket) that goes idle always stops, with byte 22: the emperor puts it
back to sleep on its socket, which frees the master too (uWSGI keeps the master in cheap mode unless die-on-idle).
"""
import time

from . import log
from .phase import RUNNING

SERVING = 'serving'
CHEAP = 'cheap'
STATES = (SERVING, CHEAP)

CONNECTION = 'CONNECTION'
IDLE = 'IDLE'

TRANSITIONS = {
    SERVING: {IDLE: CHEAP},
    CHEAP: {CONNECTION: SERVING},
}


class IdleWatch:
    """The request count last seen and since when it has not moved (nothing in flight)."""

    __slots__ = ('next_check', 'requests', 'since')

    def __init__(self):
        self.next_check = time.monotonic()
        self.requests = -1
        self.since = time.monotonic()

    def is_idle(self, summary, now, idle_s):
        if summary['requests'] != self.requests or summary['inflight']:
            self.requests = summary['requests']
            self.since = now
            return False
        return now - self.since >= idle_s


class CheapMode:
    def __init__(self, master):
        self.master = master
        self.state = SERVING
        self.watched = []          # listening fds the master watches while cheap
        self.idle = IdleWatch()

    def is_cheap(self):
        return self.state == CHEAP

    def _change(self, event):
        nxt = TRANSITIONS[self.state].get(event)
        if nxt is None:
            raise ValueError('Internal error: %s in cheap-mode state %s' % (event, self.state))
        self.state = nxt

    # ── entering ────────────────────────────────────────────────────────────────────────────────
    def start_cheap(self):
        """`cheap = true`: the master starts without workers."""
        self.state = CHEAP
        self.watch()

    def go_cheap(self):
        pool = self.master.pool
        self._change(IDLE)
        for wid in list(pool.slots):
            pool.retire(pool.slots[wid], 'cheap')
        pool.respawn_at.clear()
        self.watch()

    def go_cheap_now(self):
        """The master FIFO's `C`: cheap mode at once, as if idle."""
        if self.state == SERVING and self.master.phase == RUNNING and not self.master.reloader.in_progress():
            log.log('going cheap on request of the master FIFO')
            self.go_cheap()

    def watch(self):
        self.unwatch()
        loop = self.master.loop
        for l in self.master.listeners:
            loop.add(l.fd, self.on_connection)
            self.watched.append(l.fd)
        log.log('cheap mode enabled: waiting for socket connection...')

    def unwatch(self):
        for fd in self.watched:
            self.master.loop.remove(fd)
        self.watched = []

    def rearm(self):
        """The listening sockets changed (a reload): watch the new ones."""
        if self.state == CHEAP:
            self.watch()

    # ── leaving ─────────────────────────────────────────────────────────────────────────────────
    def on_connection(self):
        master = self.master
        self.unwatch()
        if self.state != CHEAP or master.phase != RUNNING:
            return
        self._change(CONNECTION)
        self.idle = IdleWatch()
        cfg = master.cfg
        cheaper = master.cheaper.options
        n = cheaper.cheaper if cheaper is not None else cfg['processes']
        log.log('connection on a listening socket: spawning %d workers' % n)
        for wid in range(1, n + 1):
            if wid not in master.pool.slots:
                master.pool.spawn(wid, master.gen)

    # ── the idle watch ──────────────────────────────────────────────────────────────────────────
    def check(self, now):
        master = self.master
        cfg = master.cfg
        idle_s = cfg.get('idle') or 0
        if not idle_s or self.state != SERVING or master.phase != RUNNING or now < self.idle.next_check:
            return
        self.idle.next_check = now + min(1.0, idle_s / 4.0)
        from .stats import summary       # here, not at import: only a vassal with `idle` gets here (issue 17)
        if master.reloader.in_progress() or not self.idle.is_idle(summary(master), now, idle_s):
            return
        if cfg.get('die-on-idle') or cfg.get('_on_demand'):
            log.log('workers have been inactive for more than %d seconds: idle, stopping' % idle_s)
            if master.emperor is not None:
                master.emperor.voluntary_stop()
            master.graceful_stop()
            return
        log.log('workers have been inactive for more than %d seconds' % idle_s)
        self.go_cheap()

    def deadlines(self):
        master = self.master
        if (master.cfg.get('idle') or 0) and self.state == SERVING and master.phase == RUNNING:
            return [self.idle.next_check]
        return []
