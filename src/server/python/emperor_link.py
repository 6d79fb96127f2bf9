"""The master's side of its emperor: what each emperor byte makes the master do, and what the master tells it.

Owns: the byte → action map (unknown bytes are logged and ignored: the peer may be a newer emperor), loyalty (byte
17 once, after the vassal's first response), the heartbeat timer, and the idle watch of on-demand vassals (no
request for `idle` seconds: byte 22, then a graceful stop; the emperor keeps the socket and starts the vassal again
on the next connection). emperor_pipe.py owns the bytes' values and framing.
"""
import time

from . import config as _config
from . import log
from . import stats as _stats
from .emperor_pipe import EOF_MESSAGE, FROM_VASSAL, TO_VASSAL, EmperorPipe
from .phase import RUNNING


class EmperorLink:
    def __init__(self, master, fd):
        self.master = master
        self.pipe = EmperorPipe(fd)
        self.fd = fd
        self.loyal = False
        self.next_heartbeat = None
        self.idle = IdleWatch()

    def configure(self, cfg):
        heartbeat = cfg.get('heartbeat') or 0
        self.next_heartbeat = time.monotonic() + heartbeat if heartbeat else None

    # ── to the emperor ──────────────────────────────────────────────────────────────────────────
    def spawned(self):
        self.pipe.send(FROM_VASSAL.SPAWNED)

    def accepting(self):
        self.pipe.send(FROM_VASSAL.ACCEPTING)

    def request_config(self):
        self.pipe.send(FROM_VASSAL.CONFIG_REQUEST)

    def on_first_request(self):
        if not self.loyal:
            self.loyal = True
            self.pipe.send(FROM_VASSAL.LOYAL)

    def event(self, obj):
        self.pipe.event(obj)

    # ── from the emperor ────────────────────────────────────────────────────────────────────────
    def on_readable(self):
        for byte, payload in self.pipe.read():
            action = ACTIONS.get(byte)
            if action is None:
                log.log('unknown byte %d from the emperor: ignored' % byte)
                continue
            action(self, payload)

    def _on_eof(self, _payload):
        log.log('lost connection with my emperor !!!')
        self.master.exit_code = 1
        self.master.brutal_stop(1)

    def _on_config(self, text):
        try:
            self.master.reloader.on_config(_config.parse(text))
        except _config.ConfigError as e:
            log.log('bad config from the emperor: %s' % e)
            self.event({'event': 'reload-failed', 'error': str(e)})

    def _on_reload(self, _payload):
        self.master.reloader.on_emperor_reload()

    def _on_graceful_stop(self, _payload):
        self.master.graceful_stop()

    def _on_stop(self, _payload):
        self.master.brutal_stop(0)

    def _on_stats(self, _payload):
        self.event(_stats.summary(self.master))

    # ── timed ───────────────────────────────────────────────────────────────────────────────────
    def check(self, now):
        """Idle watch and heartbeat; False when the master has started to stop (idle)."""
        master = self.master
        idle_s = master.cfg.get('idle') or 0
        if idle_s and master.phase == RUNNING and now >= self.idle.next_check:
            self.idle.next_check = now + min(1.0, idle_s / 4.0)
            if self.idle.is_idle(_stats.summary(master), now, idle_s):
                log.log('no request for %d seconds: idle, going back to on-demand' % idle_s)
                self.pipe.send(FROM_VASSAL.VOLUNTARY_STOP)
                master.graceful_stop()
                return False
        if self.next_heartbeat is not None and now >= self.next_heartbeat:
            self.pipe.send(FROM_VASSAL.HEARTBEAT)
            self.next_heartbeat = now + master.cfg['heartbeat']
        return True

    def deadlines(self):
        out = [self.next_heartbeat] if self.next_heartbeat is not None else []
        if (self.master.cfg.get('idle') or 0) and self.master.phase == RUNNING:
            out.append(self.idle.next_check)
        return out


class IdleWatch:
    """On-demand idleness: the request count last seen and since when it has not moved (nothing in flight)."""

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


ACTIONS = {
    EOF_MESSAGE: EmperorLink._on_eof,
    TO_VASSAL.STOP: EmperorLink._on_stop,
    TO_VASSAL.RELOAD: EmperorLink._on_reload,
    TO_VASSAL.GRACEFUL_STOP: EmperorLink._on_graceful_stop,
    TO_VASSAL.STATS: EmperorLink._on_stats,
    TO_VASSAL.CONFIG: EmperorLink._on_config,
}
