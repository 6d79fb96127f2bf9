"""Stopping the master, always in this order (STYLE.md's close order, in Python):

   graceful (SIGTERM, SIGINT, emperor byte 2, FIFO `q`, an idle on-demand vassal):
     1. mark `stopping` (nothing is respawned or reloaded from now on); unsubscribe from subscription servers;
        the attached daemons get their stop signal, running cron jobs SIGTERM
     2. close the listening sockets, the reload's new ones too (the kernel refuses new connections at once;
        unix sockets are unlinked with `vacuum`)
     3. workers still loading: SIGKILL; the others: SIGHUP, they finish in-flight requests and exit
        (ask → grace → SIGKILL, terminate.py: each within `worker-reload-mercy`, all within `reload-mercy`)
     4. once the last worker is reaped: finish
   brutal (SIGQUIT, emperor byte 0, FIFO `Q`, a second SIGINT, the emperor gone, the app failed at start):
     1. mark `stopping`, unsubscribe, SIGKILL daemons and cron jobs   2. SIGKILL every worker   3. reap them (at most 3 s)   4. finish
   finish: close the listening sockets (if not yet), the stats server and the FIFOs (unlinked with `vacuum`), SIGKILL
     the daemons still there,
     remove the pidfile (`vacuum`), log `goodbye to uWSGI.`, exit with the exit code.
"""
import _signal as signal
import os
import time

from . import log
from . import worker_states as states
from .phase import STOPPING

BRUTAL_REAP_S = 3


def graceful(master):
    if master.phase == STOPPING:
        return
    log.log('SIGINT/SIGTERM received...gracefully killing workers...')
    master.phase = STOPPING
    master.cheap_mode.unwatch()
    master.unsubscribe()
    master.daemons.stop()
    master.cron.stop(signal.SIGTERM)
    deadline = time.monotonic() + (master.cfg.get('reload-mercy') or 30)
    vacuum = bool(master.cfg.get('vacuum'))
    for listener in master.listeners + master.reloader.listeners():
        listener.close(vacuum=vacuum)
    pool = master.pool
    pool.drop_pending()
    for w in list(pool.workers.values()):
        if w.state == states.LOADING:
            pool.kill(w)
            continue
        pool.retire(w, 'shutdown')
        if w.termination is not None:
            w.termination.shorten(deadline)
    if not pool.workers:
        finish(master)


def brutal(master, code):
    master.phase = STOPPING
    master.cheap_mode.unwatch()
    master.unsubscribe()
    master.pool.drop_pending()
    master.daemons.kill()
    master.cron.stop(signal.SIGKILL)
    workers = master.pool.workers
    for w in workers.values():
        w.apply(states.KILL)
        w.kill()
    master.pool.forget_forked()    # a zygote's workers are not the master's children: nothing to reap here
    deadline = time.monotonic() + BRUTAL_REAP_S
    while workers and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        workers.pop(pid, None)
    master.exit_code = code
    finish(master)


def finish(master):
    cfg = master.cfg
    vacuum = bool(cfg.get('vacuum'))
    for listener in master.listeners:
        listener.close(vacuum=vacuum)
    master.controls.close(vacuum)
    master.daemons.kill()
    if vacuum and cfg.get('pidfile'):
        try:
            os.unlink(cfg['pidfile'])
        except OSError:
            pass
    log.log('goodbye to uWSGI.')
    master.die(master.exit_code)
