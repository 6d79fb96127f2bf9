"""The master's side of its emperor: what each emperor byte makes the master do, and what the master tells it.

Owns: the byte → action map (unknown bytes are logged and ignored: the peer may be a newer emperor), loyalty (byte
17 once, after the vassal's first response), the heartbeat timer, and byte 22 (voluntary stop: sent by
cheap_mode.py when an idle vassal stops; the emperor keeps an on-demand vassal's socket and starts it again on the
next connection). emperor_pipe.py owns the bytes' values and framing.
"""
import time

from . import config as _config
from . import log
from .emperor_pipe import EOF_MESSAGE, FROM_VASSAL, TO_VASSAL, EmperorPipe


class EmperorLink:
    def __init__(self, master, fd):
        self.master = master
        self.pipe = EmperorPipe(fd)
        self.fd = fd
        self.loyal = False
        self.next_heartbeat = None

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

    def voluntary_stop(self):
        self.pipe.send(FROM_VASSAL.VOLUNTARY_STOP)

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
        from .stats import summary       # here: a master the emperor never asks keeps stats.py out (issue 17)
        self.event(summary(self.master))

    # ── timed ───────────────────────────────────────────────────────────────────────────────────
    def check(self, now):
        """The heartbeat."""
        if self.next_heartbeat is not None and now >= self.next_heartbeat:
            self.pipe.send(FROM_VASSAL.HEARTBEAT)
            self.next_heartbeat = now + self.master.cfg['heartbeat']

    def deadlines(self):
        return [self.next_heartbeat] if self.next_heartbeat is not None else []


ACTIONS = {
    EOF_MESSAGE: EmperorLink._on_eof,
    TO_VASSAL.STOP: EmperorLink._on_stop,
    TO_VASSAL.RELOAD: EmperorLink._on_reload,
    TO_VASSAL.GRACEFUL_STOP: EmperorLink._on_graceful_stop,
    TO_VASSAL.STATS: EmperorLink._on_stats,
    TO_VASSAL.CONFIG: EmperorLink._on_config,
}
