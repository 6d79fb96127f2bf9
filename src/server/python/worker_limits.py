"""The limits the master enforces on each serving worker at its tick, as uWSGI's master_checks.c does.

Owns: harakiri (a request running longer than `harakiri` seconds: SIGKILL, with `harakiri-verbose` what the worker
was doing, read from /proc as uWSGI does), `reload-on-rss` (graceful: a replacement starts first and the worker
retires once it accepts), `evil-reload-on-rss` (SIGKILL at once: the exit is a crash and the slot is respawned, as in
uWSGI) and `max-worker-lifetime` (+ `max-worker-lifetime-delta` × (worker id − 1): graceful, like reload-on-rss, so
no request fails). pool.py calls `check` for each live worker and owns what the exits mean.
"""
import time

from . import log
from . import worker_states as states
from .phase import RUNNING
from .worker_proc import memory

MB = 1024 * 1024


def check(pool, w, wall):
    """Applies every limit to worker `w` (pool.check's loop); True when the worker was killed or replaced."""
    if w.state not in states.SERVING:
        return False
    cfg = w.gen.cfg
    harakiri = cfg.get('harakiri') or 0
    if harakiri and stuck(w, wall, harakiri):
        log.log('*** HARAKIRI ON WORKER %d (pid: %d, try: 1) ***' % (w.id, w.pid))
        if cfg.get('harakiri-verbose'):
            for line in verbose_lines(w.pid):
                log.log(line)
        w.apply(states.STUCK)
        pool.totals_of(w.id).harakiri += 1
        w.kill()
        return True
    master = pool.master
    primary = w.state == states.READY and pool.slots.get(w.id) is w and master.phase == RUNNING
    if not primary:
        return False
    evil_mb = cfg.get('evil-reload-on-rss') or 0
    limit_mb = cfg.get('reload-on-rss') or 0
    rss = memory(w.pid)[0] if (evil_mb or limit_mb) else 0
    if evil_mb and rss >= evil_mb * MB:
        # uWSGI: SIGKILL from the master, then the usual "DAMN ! worker died" and a respawn
        log.log('*** EVIL RELOAD ON WORKER %d RSS: %d (pid: %d) ***' % (w.id, rss, w.pid))
        w.kill()
        return True
    if master.reloader.in_progress():
        return False        # a reload replaces every worker anyway: no recycle of its own meanwhile
    if limit_mb and rss >= limit_mb * MB:
        log.log('worker %d (pid: %d) reached reload-on-rss (%d MB >= %d MB): recycling' % (
            w.id, w.pid, rss >> 20, limit_mb))
        return _replace(pool, w, 'reload-on-rss')
    lifetime = lifetime_of(cfg, w.id)
    if lifetime:
        ran = time.time() - w.spawned
        if ran > lifetime:
            log.log('worker %d lifetime reached, it was running for %d second(s)' % (w.id, int(ran)))
            return _replace(pool, w, 'max-worker-lifetime')
    return False


def lifetime_of(cfg, wid):
    """Seconds worker `wid` may live (0 = for ever): uWSGI's max_worker_lifetime + (wid - 1) × delta."""
    base = cfg.get('max-worker-lifetime') or 0
    if not base:
        return 0
    return base + (wid - 1) * (cfg.get('max-worker-lifetime-delta') or 0)


def _replace(pool, w, reason):
    """Graceful recycle: the replacement starts now; `w` retires once it accepts (pool._on_accepting)."""
    w.reason = reason
    pool.spawn(w.id, w.gen, replaces=w)
    return True


def stuck(w, wall, harakiri):
    """True when one of the worker's cores has been on its current request longer than `harakiri` seconds."""
    sb = w.gen.sb
    for core in range(w.gen.threads):
        start = sb.core(w.slot, core)[0]
        if start and wall - start > harakiri:
            return True
    return False


def verbose_lines(pid, proc='/proc'):
    """harakiri-verbose: the lines uWSGI logs before the kill, the worker's current syscall and wait channel."""
    out = []
    for name, label in (('syscall', 'syscall'), ('wchan', 'wchan')):
        try:
            with open('%s/%d/%s' % (proc, pid, name), 'rb') as f:
                text = f.read(4096).decode('ascii', 'replace').strip()
        except OSError:
            continue
        if text:
            out.append('HARAKIRI: -- %s> %s' % (label, text))
    return out
