"""What an operator uses to drive a running master besides signals: the stats server, the master FIFOs and the
touch files, (re)configured from each config (a reload keeps what did not change).

Owns: creating and closing the stats server and FIFOs, the FIFO command → action map (fifo.py turns bytes into
commands), and watching `touch-reload` / `touch-chain-reload` files (their mtime, polled on the master's tick).
"""
import os

from . import log
from .reload import CHAIN

STATS_KEYS = ('stats', 'stats-http', 'stats-minified')
TOUCH_KEYS = (('touch-reload', None), ('touch-chain-reload', CHAIN))


class Controls:
    def __init__(self, master):
        self.master = master
        self.stats = None
        self.fifos = []
        self.touch = {}          # path → (reload mode, mtime_ns or None)

    def configure(self, cfg, old):
        """Applies `cfg`; `old` is the config it replaces (None at start)."""
        if old is None or any(old.get(k) != cfg.get(k) for k in STATS_KEYS):
            self._close_stats()
            if cfg.get('stats'):
                self._open_stats(cfg)
        if old is None or old.get('master-fifo') != cfg.get('master-fifo'):
            self._close_fifos(False)
            for path in cfg.get('master-fifo') or []:
                self._open_fifo(path)
        self.touch = {}
        for key, mode in TOUCH_KEYS:
            for path in cfg.get(key) or []:
                self.touch[path] = (mode, _mtime(path))

    def fds(self):
        fds = [f.fd for f in self.fifos]
        if self.stats is not None:
            fds.append(self.stats.fd)
        return fds

    def close(self, vacuum):
        if self.stats is not None:
            self.stats.close()
            self.stats = None
        for f in self.fifos:
            f.close(vacuum=vacuum)
        self.fifos = []

    def _open_stats(self, cfg):
        from .stats import StatsServer
        try:
            self.stats = StatsServer(cfg['stats'], cfg)
        except OSError as e:
            log.log('cannot bind the stats server on %s: %s' % (cfg['stats'], e))
            return
        self.master.loop.add(self.stats.fd, lambda: self.stats.serve(self.master))

    def _close_stats(self):
        if self.stats is not None:
            self.master.loop.remove(self.stats.fd)
            self.stats.close()
            self.stats = None

    def _open_fifo(self, path):
        from .fifo import Fifo
        try:
            fifo = Fifo(path)
        except OSError as e:
            log.log('cannot create master fifo %s: %s' % (path, e))
            return
        self.fifos.append(fifo)
        self.master.loop.add(fifo.fd, lambda: self.on_fifo(fifo))

    def _close_fifos(self, vacuum):
        for f in self.fifos:
            self.master.loop.remove(f.fd)
            f.close(vacuum=vacuum)
        self.fifos = []

    def on_fifo(self, fifo):
        for cmd in fifo.read():
            FIFO_ACTIONS[cmd](self.master)

    def check_touch(self):
        for path, (mode, seen) in list(self.touch.items()):
            now = _mtime(path)
            if now != seen:
                self.touch[path] = (mode, now)
                if seen is not None or now is not None:
                    log.log('*** %s has been touched... %s reload ! ***' % (path, mode or 'graceful'))
                    self.master.reloader.request(mode)


FIFO_ACTIONS = {
    'reload': lambda master: master.reloader.request(None),
    'chain-reload': lambda master: master.reloader.request(CHAIN),
    'graceful-stop': lambda master: master.graceful_stop(),
    'stop': lambda master: master.brutal_stop(0),
    'stats': lambda master: master.log_stats(),
    'cheaper-add': lambda master: master.cheaper.fifo(1),
    'cheaper-remove': lambda master: master.cheaper.fifo(-1),
    'go-cheap': lambda master: master.cheap_mode.go_cheap_now(),
}


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
