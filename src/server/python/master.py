"""kaiser app-server master: entry point and main loop.

Run as `python3 master.py` with KAISER_CONFIG (docs/runtime-protocol.md), or forked by the runtime
host (host.py), which calls `main(config)` in-process. Owns: process
start-up, binding sockets, the event loop (epoll over a signal self-pipe, worker status
pipes, the emperor pipe, master FIFOs and the stats socket; a timer only for harakiri,
reload-on-rss, touch files, heartbeats and deadlines), and the supervision state machine:
respawn, recycle, zero-loss graceful reload (all / chain) with rollback, graceful and brutal
stop.

The other modules live next to this file and are imported as the package `_kaiser` (so
`http.py`, `config.py`… never shadow the stdlib or the application's own modules).
"""
import os
import sys


def _bootstrap():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or '.') == here:
        del sys.path[0]
    import types
    pkg = types.ModuleType('_kaiser')
    pkg.__path__ = [here]
    pkg.__file__ = os.path.join(here, '__init__.py')
    sys.modules['_kaiser'] = pkg


if __name__ == '__main__':
    _bootstrap()

import gc  # noqa: E402
import select  # noqa: E402
import _signal as signal  # noqa: E402
import time  # noqa: E402

from _kaiser import config as _config  # noqa: E402
from _kaiser import minijson  # noqa: E402
from _kaiser import log  # noqa: E402
from _kaiser import sockets  # noqa: E402
from _kaiser import pool  # noqa: E402
from _kaiser.pool import Generation  # noqa: E402
from _kaiser import subscriber as _subscriber  # noqa: E402
# imported here so forked workers share these pages with the master
from _kaiser import worker as _worker, core as _core, wsgi as _wsgi, loader as _loader  # noqa: E402,F401

EXIT_NEED_APP = 22


class Master:
    def __init__(self, cfg):
        self.cfg = cfg
        self.ep = select.epoll()
        self.handlers = {}
        self.workers = {}        # pid → WorkerProc
        self.slots = {}          # worker id → primary WorkerProc
        self.stats_by_id = {}
        self.phase = 'starting'  # starting → running → stopping
        self.reload = None
        self.reload_queued = None
        self.loyal = False
        self.emperor = None
        self.pending_cfg = None
        self.awaiting_config = None
        self.fifos = []
        self.stats = None
        self.touch = {}
        self.respawn_at = {}     # worker id → time
        self.backoff = {}
        self.stop_deadline = None
        self.next_heartbeat = None
        # idle (on-demand vassals): the request count last seen, and since when it has not moved
        self.next_idle_check = time.monotonic()
        self.idle_requests = -1
        self.idle_since = time.monotonic()
        self.old_gens = []
        self.exit_code = 0
        self.listeners = []
        self.subscriber = None   # subscribe-to / subscribe2 (subscriber.py)

    # ── set-up ────────────────────────────────────────────────────────────────────────────────
    def start(self):
        cfg = self.cfg
        log.log('*** Starting kaiser 0.1.0 (%s) ***' % _config.name(cfg))
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(sig, _noop)
        self.add(self.wake_r, self.on_signals)
        self.life_r, self.life_w = os.pipe()
        efd = os.environ.get('UWSGI_EMPEROR_FD')
        if efd:
            from _kaiser.emperor_pipe import EmperorPipe
            self.emperor = EmperorPipe(int(efd))
            os.environ.pop('UWSGI_EMPEROR_FD', None)
            log.log('*** has_emperor mode detected (fd: %s) ***' % efd)
            self.add(self.emperor.fd, self.on_emperor)
        specs = _config.socket_specs(cfg)
        if not specs:
            log.log('The -s/--socket option is missing: no http, http-socket or socket address given.')
            return self.die(1)
        try:
            self.listeners, _ = sockets.bind_all(specs, cfg)
        except Exception as e:
            log.log('cannot bind the sockets: %s' % e)
            if self.emperor:
                self.emperor.event({'event': 'app-load-failed', 'error': 'bind: %s' % e})
            return self.die(1)
        self.setup_aux(cfg, None)
        if cfg.get('pidfile'):
            try:
                with open(cfg['pidfile'], 'w') as f:
                    f.write('%d\n' % os.getpid())
            except OSError as e:
                log.log('cannot write pidfile %s: %s' % (cfg['pidfile'], e))
        if self.emperor:
            self.emperor.send(1)
        log.log('spawned uWSGI master process (pid: %d)' % os.getpid())
        self.gen = Generation(cfg, self.listeners)
        gc.collect()
        gc.freeze()
        for wid in range(1, cfg['processes'] + 1):
            self.spawn(wid, self.gen)
        self.loop()

    def setup_aux(self, cfg, old):
        """Stats server, master FIFOs, touch files, heartbeat, subscriptions: (re)configured per config."""
        if old is None or any(old.get(k) != cfg.get(k) for k in ('subscribe-to', 'subscribe2', 'subscribe-freq')):
            if self.subscriber:
                self.subscriber.stop()
            try:
                self.subscriber = _subscriber.Subscriber.from_config(cfg, self.listeners)
            except _subscriber.SubscriptionError as e:
                log.log('cannot subscribe: %s' % e)
                self.subscriber = None
        if old is None or old.get('stats') != cfg.get('stats') or old.get('stats-http') != cfg.get('stats-http') \
                or old.get('stats-minified') != cfg.get('stats-minified'):
            if self.stats:
                self.remove(self.stats.fd)
                self.stats.close()
                self.stats = None
            if cfg.get('stats'):
                from _kaiser.stats import StatsServer
                try:
                    self.stats = StatsServer(cfg['stats'], cfg)
                    self.add(self.stats.fd, lambda: self.stats.serve(self))
                except OSError as e:
                    log.log('cannot bind the stats server on %s: %s' % (cfg['stats'], e))
        if old is None or old.get('master-fifo') != cfg.get('master-fifo'):
            from _kaiser.fifo import Fifo
            for f in self.fifos:
                self.remove(f.fd)
                f.close()
            self.fifos = []
            for path in cfg.get('master-fifo') or []:
                try:
                    f = Fifo(path)
                except OSError as e:
                    log.log('cannot create master fifo %s: %s' % (path, e))
                    continue
                self.fifos.append(f)
                self.add(f.fd, lambda f=f: self.on_fifo(f))
        self.touch = {}
        for key, mode in (('touch-reload', None), ('touch-chain-reload', 'chain')):
            for path in cfg.get(key) or []:
                self.touch[path] = (mode, _mtime(path))
        hb = cfg.get('heartbeat') or 0
        self.next_heartbeat = time.monotonic() + hb if (hb and self.emperor) else None

    def add(self, fd, handler):
        self.handlers[fd] = handler
        self.ep.register(fd, select.EPOLLIN)

    def remove(self, fd):
        if self.handlers.pop(fd, None) is not None:
            try:
                self.ep.unregister(fd)
            except (OSError, ValueError):
                pass

    def master_fds(self):
        fds = [self.wake_r, self.wake_w, self.life_w, self.ep.fileno()]
        fds += [l.fd for l in self.listeners]
        if self.reload:
            fds += [l.fd for l in self.reload['gen'].listeners]
        fds += [w.status_fd for w in self.workers.values() if w.status_fd is not None]
        if self.emperor:
            fds.append(self.emperor.fd)
        if self.stats:
            fds.append(self.stats.fd)
        fds += [f.fd for f in self.fifos]
        return fds

    # ── workers ───────────────────────────────────────────────────────────────────────────────
    def spawn(self, wid, gen, replaces=None):
        wp = pool.spawn(wid, gen, self.master_fds(), self.life_r)
        self.workers[wp.pid] = wp
        self.add(wp.status_fd, lambda wp=wp: self.on_status(wp))
        self.slots[wid] = wp
        wp.replaces = replaces
        st = self.idstats(wid)
        st['respawns'] += 1
        st['last_spawn'] = time.time()
        return wp

    def idstats(self, wid):
        st = self.stats_by_id.get(wid)
        if st is None:
            st = self.stats_by_id[wid] = {'requests': 0, 'exceptions': 0, 'tx': 0, 'running': 0, 'harakiri': 0,
                                          'respawns': 0, 'last_spawn': 0}
        return st

    def retire(self, wp, reason=None):
        if wp.state in ('retiring', 'killed'):
            return
        wp.state = 'retiring'
        wp.reason = reason
        wp.deadline = time.monotonic() + (wp.gen.cfg.get('worker-reload-mercy') or 60)
        if self.slots.get(wp.id) is wp:
            del self.slots[wp.id]
        wp.signal(signal.SIGHUP)

    def on_status(self, wp):
        msgs, eof = wp.read_status()
        for m in msgs:
            self.on_message(wp, m)
        if eof:
            self.remove(wp.status_fd)
            os.close(wp.status_fd)
            wp.status_fd = None

    def on_message(self, wp, m):
        act = m.get('act')
        if act == 'load-failed':
            wp.error = m.get('error') or 'unknown error'
        elif act == 'accepting':
            if wp.state == 'loading':
                wp.state = 'ready'
                self.backoff.pop(wp.id, None)
                self.worker_ready(wp)
        elif act == 'first-request':
            if not self.loyal:
                self.loyal = True
                if self.emperor:
                    self.emperor.send(17)
        elif act == 'retiring':
            # the worker retired itself (max-requests): it no longer accepts; replace it now
            if wp.state == 'ready':
                wp.state = 'retiring'
                wp.reason = m.get('reason')
                wp.deadline = time.monotonic() + (wp.gen.cfg.get('worker-reload-mercy') or 60)
                if self.slots.get(wp.id) is wp and self.phase != 'stopping':
                    del self.slots[wp.id]
                    if wp.gen is self.gen:
                        self.spawn(wp.id, self.gen)

    def worker_ready(self, wp):
        if wp.replaces is not None:
            self.retire(wp.replaces, 'recycled')
            wp.replaces = None
        r = self.reload
        if r is not None and wp.gen is r['gen']:
            if r['mode'] == 'chain':
                old = r['old'].pop(wp.id, None)
                if old is not None:
                    log.log('chain reload: worker %d (pid: %d) replaced by pid %d' % (wp.id, old.pid, wp.pid))
                    self.retire(old, 'reload')
            if r['queue']:
                # Both modes start new workers one after another: N interpreters importing the app at once would
                # take the CPU from the workers still serving (measured: a 61-73 ms pause on 2 cores).
                self.spawn(r['queue'].pop(0), r['gen'])
                return
            if all(w.state == 'ready' for w in self.workers.values() if w.gen is r['gen']) and not r['queue']:
                self.finish_reload()
            return
        if self.phase == 'starting' and wp.gen is self.gen:
            if all(w.state == 'ready' for w in self.workers.values() if w.gen is self.gen):
                self.phase = 'running'
                log.log('*** kaiser is running: %d workers accepting ***' % len(self.slots))
                if self.emperor:
                    self.emperor.send(5)

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            wp = self.workers.pop(pid, None)
            if wp is not None:
                self.worker_exited(wp, status)

    def worker_exited(self, wp, status):
        if wp.status_fd is not None:
            self.on_status(wp)
            if wp.status_fd is not None:
                self.remove(wp.status_fd)
                os.close(wp.status_fd)
                wp.status_fd = None
        code = os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status
        st = self.idstats(wp.id)
        r, e, t, rt, _a, _acc = wp.counters()
        st['requests'] += r
        st['exceptions'] += e
        st['tx'] += t
        st['running'] += rt
        wp.gen.sb.give_back(wp.slot)
        primary = self.slots.get(wp.id) is wp
        if primary:
            del self.slots[wp.id]
        self.gc_generations()
        if self.phase == 'stopping':
            log.log('worker %d buried after %d seconds' % (wp.id, int(time.time() - wp.spawned)))
            if not self.workers:
                self.finish_stop()
            return
        if wp.state == 'killed':
            return
        if wp.state == 'retiring':
            log.log('worker %d (pid: %d) retired (%s), exit %s' % (wp.id, wp.pid, wp.reason or 'graceful', code))
            return
        if wp.state == 'loading':
            err = wp.error or 'worker exited with status %s before loading the app' % code
            r = self.reload
            if r is not None and wp.gen is r['gen']:
                return self.abort_reload(err)
            if self.phase == 'starting':
                log.log('*** no app loaded. GAME OVER ***\n%s' % err.rstrip())
                if self.emperor:
                    self.emperor.event({'event': 'app-load-failed', 'error': err})
                self.exit_code = EXIT_NEED_APP
                return self.brutal_stop(EXIT_NEED_APP)
            if wp.replaces is not None and wp.replaces.pid in self.workers:
                self.slots[wp.id] = wp.replaces   # keep the old one serving
                log.log('worker %d failed to load the app, keeping pid %d:\n%s' % (wp.id, wp.replaces.pid, err))
                return
            delay = min(self.backoff.get(wp.id, 0.5) * 2, 30)
            self.backoff[wp.id] = delay
            log.log('worker %d failed to load the app; respawning in %d seconds:\n%s' % (wp.id, delay, err))
            self.respawn_at[wp.id] = time.monotonic() + delay
            return
        # a serving worker died: crash or harakiri
        if not wp.harakiri:
            log.log('DAMN ! worker %d (pid: %d) died :( trying respawn ...' % (wp.id, wp.pid))
        if primary and wp.gen is self.gen and wp.id <= self.cfg['processes']:
            if time.time() - wp.spawned < 1.0:
                log.log('worker respawning too fast !!! i have to sleep a bit (1 seconds)...')
                self.respawn_at[wp.id] = time.monotonic() + 1.0
            else:
                self.spawn(wp.id, self.gen)
        elif primary and self.reload is None:
            self.spawn(wp.id, self.gen)

    def gc_generations(self):
        keep = {id(self.gen)}
        if self.reload:
            keep.add(id(self.reload['gen']))
        live = {id(w.gen) for w in self.workers.values()}
        for g in list(self.old_gens):
            if id(g) not in keep and id(g) not in live:
                g.sb.close()
                self.old_gens.remove(g)

    # ── reload ────────────────────────────────────────────────────────────────────────────────
    def request_reload(self, mode):
        """SIGHUP, touch or FIFO: ask the emperor for the newest config first, if there is one."""
        if self.phase == 'stopping':
            return
        if self.emperor:
            if self.awaiting_config is None:
                self.emperor.send(2)
            self.awaiting_config = (mode, time.monotonic() + 2.0)
        else:
            self.start_reload(self.cfg, mode)

    def start_reload(self, cfg, mode=None):
        if self.phase == 'stopping':
            return
        mode = mode or cfg.get('reload-mode') or 'chain'
        if self.reload is not None or self.phase == 'starting':
            self.reload_queued = (cfg, mode)
            return
        log.log('...gracefully reloading workers (%s)...' % mode)
        try:
            listeners, new = sockets.bind_all(_config.socket_specs(cfg), cfg, self.listeners)
            gen = Generation(cfg, listeners)
        except Exception as e:
            log.log('reload failed: cannot bind the sockets: %s' % e)
            if self.emperor:
                self.emperor.event({'event': 'reload-failed', 'error': 'bind: %s' % e})
            return
        old = {w.id: w for w in self.workers.values() if w.gen is self.gen and w.state in ('ready', 'loading')}
        ids = list(range(1, cfg['processes'] + 1))
        self.reload = {'gen': gen, 'mode': mode, 'new_listeners': new, 'old': old, 'queue': []}
        self.old_gens.append(gen)
        # chain retires each old worker as its replacement accepts; all retires the old ones only once every new one
        # accepts. Either way the new ones start one at a time (see worker_ready).
        self.reload['queue'] = ids[1:]
        self.spawn(ids[0], gen)

    def finish_reload(self):
        r = self.reload
        self.reload = None
        old_gen = self.gen
        self.gen = r['gen']
        for w in list(self.workers.values()):
            if w.gen is not self.gen and w.state in ('ready', 'loading'):
                self.retire(w, 'reload')
        keep = {l.fd for l in self.gen.listeners}
        for l in self.listeners:
            if l.fd not in keep:
                self.remove(l.fd)
                l.close(vacuum=bool(self.cfg.get('vacuum')))
        self.listeners = self.gen.listeners
        old_cfg = self.cfg
        self.cfg = self.gen.cfg
        if old_gen not in self.old_gens:
            self.old_gens.append(old_gen)
        self.setup_aux(self.cfg, old_cfg)
        self.gc_generations()
        log.log('*** graceful reload done: %d new workers accepting ***' % self.cfg['processes'])
        if self.emperor:
            self.emperor.send(5)
            self.emperor.event({'event': 'reloaded'})
        self.run_queued()

    def abort_reload(self, err):
        r = self.reload
        self.reload = None
        for w in list(self.workers.values()):
            if w.gen is r['gen'] and w.state == 'loading':
                w.state = 'killed'
                w.signal(signal.SIGKILL)
        if r['mode'] == 'chain':
            # replacements that already took over keep serving; restore primaries of the rest
            for w in self.workers.values():
                if w.gen is self.gen and w.state == 'ready':
                    self.slots.setdefault(w.id, w)
        else:
            for w in self.workers.values():
                if w.gen is self.gen and w.state == 'ready':
                    self.slots[w.id] = w
        keep = {l.fd for l in self.listeners}
        for l in r['new_listeners']:
            if l.fd not in keep:
                l.close(vacuum=True)
        log.log('!!! reload failed, the old workers keep serving !!!\n%s' % err.rstrip())
        if self.emperor:
            self.emperor.event({'event': 'reload-failed', 'error': err})
        self.run_queued()

    def run_queued(self):
        q = self.reload_queued
        if q is not None:
            self.reload_queued = None
            self.start_reload(*q)

    # ── stop ──────────────────────────────────────────────────────────────────────────────────
    def graceful_stop(self):
        if self.phase == 'stopping':
            return
        log.log('SIGINT/SIGTERM received...gracefully killing workers...')
        self.phase = 'stopping'
        if self.subscriber:
            self.subscriber.stop()
        self.stop_deadline = time.monotonic() + (self.cfg.get('reload-mercy') or 30)
        for l in self.listeners:
            l.close(vacuum=bool(self.cfg.get('vacuum')))
        if self.reload:
            for l in self.reload['gen'].listeners:
                l.close(vacuum=bool(self.cfg.get('vacuum')))
        for w in list(self.workers.values()):
            if w.state == 'loading':
                w.state = 'killed'
                w.signal(signal.SIGKILL)
            else:
                self.retire(w, 'shutdown')
        if not self.workers:
            self.finish_stop()

    def brutal_stop(self, code=0):
        self.phase = 'stopping'
        if self.subscriber:
            self.subscriber.stop()
        for w in self.workers.values():
            w.signal(signal.SIGKILL)
        deadline = time.monotonic() + 3
        while self.workers and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.workers.pop(pid, None)
        self.exit_code = code
        self.finish_stop()

    def finish_stop(self):
        vac = bool(self.cfg.get('vacuum'))
        for l in self.listeners:
            l.close(vacuum=vac)
        if self.stats:
            self.stats.close()
        for f in self.fifos:
            f.close(vacuum=vac)
        if vac and self.cfg.get('pidfile'):
            try:
                os.unlink(self.cfg['pidfile'])
            except OSError:
                pass
        log.log('goodbye to uWSGI.')
        self.die(self.exit_code)

    def die(self, code):
        log.flush_std()
        os._exit(code)

    # ── event sources ─────────────────────────────────────────────────────────────────────────
    def on_signals(self):
        try:
            data = os.read(self.wake_r, 512)
        except BlockingIOError:
            return
        for sig in data:
            if sig == signal.SIGCHLD:
                self.reap()
            elif sig == signal.SIGHUP:
                log.log('SIGHUP received: graceful reload')
                self.request_reload(None)
            elif sig in (signal.SIGTERM, signal.SIGINT):
                if self.phase == 'stopping':
                    if sig == signal.SIGINT:
                        self.brutal_stop(self.exit_code)
                else:
                    self.graceful_stop()
            elif sig == signal.SIGQUIT:
                log.log('SIGQUIT received: brutal stop')
                self.brutal_stop(0)
            elif sig == signal.SIGUSR1:
                self.log_stats()

    def on_emperor(self):
        for cmd, arg in self.emperor.read():
            if cmd == 'eof':
                log.log('lost connection with my emperor !!!')
                self.exit_code = 1
                return self.brutal_stop(1)
            if cmd == 'config':
                try:
                    self.pending_cfg = _config.parse(arg)
                except _config.ConfigError as e:
                    log.log('bad config from the emperor: %s' % e)
                    self.emperor.event({'event': 'reload-failed', 'error': str(e)})
            elif cmd == 'reload':
                log.log('received message 1 from emperor')
                mode = self.awaiting_config[0] if self.awaiting_config else None
                self.awaiting_config = None
                cfg = self.pending_cfg or self.cfg
                self.pending_cfg = None
                self.start_reload(cfg, mode)
            elif cmd == 'graceful-stop':
                self.graceful_stop()
            elif cmd == 'stop':
                self.brutal_stop(0)
            elif cmd == 'stats':
                self.emperor.event(self.stats_summary())

    def stats_summary(self):
        """The figures the emperor exports as metrics, asked for with byte 3 (no timer: idle vassals stay idle)."""
        from _kaiser import stats as _stats
        requests = inflight = busy = harakiri = workers = 0
        for wid in range(1, self.cfg['processes'] + 1):
            doc = _stats.worker_doc(self, wid, False)
            requests += doc['requests']
            harakiri += doc['harakiri_count']
            if doc['pid']:
                workers += 1
            n = sum(c['in_request'] for c in doc['cores'])
            inflight += n
            if n:
                busy += 1
        return {'event': 'stats', 'requests': requests, 'inflight': inflight, 'workers': workers,
                'busy': busy, 'harakiri': harakiri}

    def on_fifo(self, f):
        for cmd in f.read():
            if cmd == 'reload':
                self.request_reload(None)
            elif cmd == 'chain-reload':
                self.request_reload('chain')
            elif cmd == 'graceful-stop':
                self.graceful_stop()
            elif cmd == 'stop':
                self.brutal_stop(0)
            elif cmd == 'stats':
                self.log_stats()

    def log_stats(self):
        from _kaiser.stats import document
        log.log(minijson.dumps(document(self)))

    def tick(self):
        now = time.monotonic()
        wall = time.time()
        for w in list(self.workers.values()):
            if w.deadline is not None and now > w.deadline and w.state in ('retiring',):
                log.log('worker %d (pid: %d) did not finish in time: killing it' % (w.id, w.pid))
                w.state = 'killed'
                w.signal(signal.SIGKILL)
                continue
            if w.state not in ('ready', 'retiring') or w.harakiri:
                continue
            hk = w.gen.cfg.get('harakiri') or 0
            if hk:
                sb = w.gen.sb
                for c in range(w.gen.threads):
                    start = sb.core(w.slot, c)[0]
                    if start and wall - start > hk:
                        log.log('*** HARAKIRI ON WORKER %d (pid: %d, try: 1) ***' % (w.id, w.pid))
                        w.harakiri = True
                        self.idstats(w.id)['harakiri'] += 1
                        w.signal(signal.SIGKILL)
                        break
            rl = w.gen.cfg.get('reload-on-rss') or 0
            if rl and w.state == 'ready' and self.slots.get(w.id) is w and self.phase == 'running':
                rss = pool.memory(w.pid)[0]
                if rss >= rl * 1024 * 1024:
                    log.log('worker %d (pid: %d) reached reload-on-rss (%d MB >= %d MB): recycling' % (
                        w.id, w.pid, rss >> 20, rl))
                    w.reason = 'reload-on-rss'
                    self.spawn(w.id, w.gen, replaces=w)
        for wid, at in list(self.respawn_at.items()):
            if now >= at:
                del self.respawn_at[wid]
                if self.phase != 'stopping' and wid not in self.slots and wid <= self.cfg['processes']:
                    self.spawn(wid, self.gen)
        if self.awaiting_config and now >= self.awaiting_config[1]:
            mode = self.awaiting_config[0]
            self.awaiting_config = None
            log.log('no config from the emperor within 2 seconds: reloading with the current one')
            self.start_reload(self.pending_cfg or self.cfg, mode)
        for path, (mode, mt) in list(self.touch.items()):
            m = _mtime(path)
            if m != mt:
                self.touch[path] = (mode, m)
                if mt is not None or m is not None:
                    log.log('*** %s has been touched... %s reload ! ***' % (path, mode or 'graceful'))
                    self.request_reload(mode)
        idle = self.cfg.get('idle') or 0
        if idle and self.emperor and self.phase == 'running' and now >= self.next_idle_check:
            self.next_idle_check = now + min(1.0, idle / 4.0)
            summary = self.stats_summary()
            if summary['requests'] != self.idle_requests or summary['inflight']:
                self.idle_requests = summary['requests']
                self.idle_since = now
            elif now - self.idle_since >= idle:
                # uWSGI's idle + die-on-idle under an emperor: byte 22, then a graceful stop; the emperor keeps the
                # socket and starts us again on the next connection.
                log.log('no request for %d seconds: idle, going back to on-demand' % idle)
                self.emperor.send(22)
                self.graceful_stop()
                return
        if self.next_heartbeat is not None and now >= self.next_heartbeat:
            self.emperor.send(26)
            self.next_heartbeat = now + self.cfg['heartbeat']
        if self.subscriber and self.phase != 'stopping':
            self.subscriber.tick(now)
        if self.phase == 'stopping' and self.stop_deadline and now > self.stop_deadline:
            log.log('reload-mercy expired: killing the remaining workers')
            self.brutal_stop(self.exit_code)

    def timeout(self):
        """Seconds until the next timed duty, or -1 for none."""
        cfg = self.cfg
        t = None
        if cfg.get('harakiri') or cfg.get('reload-on-rss') or self.touch:
            t = 0.5 if cfg.get('harakiri') else 1.0
        if self.reload and (self.reload['gen'].cfg.get('harakiri')):
            t = 0.5
        now = time.monotonic()
        dl = [w.deadline for w in self.workers.values() if w.deadline is not None]
        dl += list(self.respawn_at.values())
        if self.awaiting_config:
            dl.append(self.awaiting_config[1])
        if self.next_heartbeat:
            dl.append(self.next_heartbeat)
        if (cfg.get('idle') or 0) and self.emperor and self.phase == 'running':
            dl.append(self.next_idle_check)
        if self.stop_deadline:
            dl.append(self.stop_deadline)
        if self.subscriber and self.phase != 'stopping':
            dl.append(self.subscriber.next_at)
        if dl:
            d = max(0.01, min(dl) - now)
            t = d if t is None else min(t, d)
        return -1 if t is None else t

    def loop(self):
        ep = self.ep
        handlers = self.handlers
        while True:
            try:
                events = ep.poll(self.timeout())
            except InterruptedError:
                continue
            for fd, _ev in events:
                h = handlers.get(fd)
                if h is not None:
                    h()
            self.tick()


def _noop(signum, frame):
    pass


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def main(config=None):
    """Run a master; never returns. `config` is the KAISER_CONFIG object (the runtime host passes it, with
    `_inherit` = {address: listening fd}); without it the config is read from the environment."""
    try:
        cfg = _config.load() if config is None else _config.parse(minijson.dumps(config))
    except _config.ConfigError as e:
        log.log(str(e))
        sys.exit(1)
    log.setup(cfg)
    Master(cfg).start()


if __name__ == '__main__':
    main()
