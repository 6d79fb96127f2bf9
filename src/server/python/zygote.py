"""Per-generation zygotes: the language runtime starts once per generation, loads the app, then forks the workers.

uWSGI loads a Perl or Ruby app once in its master and forks the workers, which share the interpreter and the
app copy-on-write; a worker exec'd with its own runtime pays all of that privately. So for the kinds of kinds.py
marked `zygote` (unless `lazy-apps` is set, uWSGI's name for "each worker loads the app itself"), the master execs
one process per generation, the zygote (`RUNTIME SCRIPT` with KAISER_ZYGOTE=1, docs/runtime-protocol.md §3): it
loads the app (a failure is its load-failed + exit 22, which fails the generation's workers: rollback on a reload,
GAME OVER at the first start), then forks a worker for each `spawn ID SLOT OFFSET` line the master writes on its
control pipe, and reports each worker's exit. A reload starts a new generation, so a new zygote loads fresh code.

Messages (JSON lines) come on one event pipe from the zygote and from all its workers, each tagged with the pid
that sends it (lines are written whole, under PIPE_BUF): the zygote's own `loaded`/`load-failed`, a new worker's
`spawned` (its pid for the slot it was forked for: the master then sees and signals it by pid), the worker's usual
messages, and the zygote's `{"act":"exited","worker":PID,"status":WAIT_STATUS}` once it reaped a worker.

Owns: starting a zygote, asking it for workers, reading and routing its event pipe, and what its own exit means
(its workers still waiting to be forked fail to load; forked ones it can no longer report on are killed). The
WorkerPool (pool.py) owns the workers themselves; a worker a zygote has not forked yet has no pid (`pending`).
"""
import os

from . import log
from . import minijson
from .nonblocking import drain
from . import terminate
from .worker_proc import exec_kind_child

EXIT_NEED_APP = 22
KILLED_STATUS = 9            # a wait status: killed by SIGKILL


class Zygote:
    """One generation's zygote process as the master sees it."""

    def __init__(self, gen, pid, ctl_w, ev_r):
        self.gen = gen
        self.pid = pid
        self.ctl_w = ctl_w          # master → zygote: `spawn ID SLOT OFFSET` lines; EOF = exit
        self.ev_r = ev_r            # zygote and workers → master: JSON lines tagged with the sender's pid
        self.buf = b''
        self.error = None           # its load-failed message
        self.alive = True           # False once reaped
        self.pending = {}           # scoreboard slot → WorkerProc asked for and not forked yet
        self.forked = set()         # pids of workers it forked that are still alive

    def fds(self):
        return [fd for fd in (self.ctl_w, self.ev_r) if fd is not None]

    def ask(self, wp, offset):
        """Asks for worker `wp` (pending until its `spawned`); False when the zygote is gone."""
        self.pending[wp.slot] = wp
        try:
            os.write(self.ctl_w, b'spawn %d %d %d\n' % (wp.id, wp.slot, offset))
        except (OSError, TypeError):
            return False      # it died: its exit fails what it still had pending
        return True

    def retire(self):
        """The generation is over: EOF on the control pipe, the zygote exits (it forks nothing any more)."""
        if self.ctl_w is not None:
            os.close(self.ctl_w)
            self.ctl_w = None

    def messages(self):
        data, _ = drain(self.ev_r) if self.ev_r is not None else (b'', False)
        self.buf += data
        *lines, self.buf = self.buf.split(b'\n')
        out = []
        for line in lines:
            try:
                msg = minijson.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict):
                out.append(msg)
        return out


class Zygotes:
    """The zygotes of the master's generations, and routing what they and their workers say to the pool."""

    def __init__(self, pool):
        self.pool = pool
        self.by_pid = {}            # zygote pid → Zygote, until reaped

    def fds(self):
        out = []
        for z in self.by_pid.values():
            out += z.fds()
        return out

    def spawn(self, wp):
        """Has the generation's zygote fork `wp` (starting the zygote first when there is none)."""
        gen = wp.gen
        z = gen.zygote
        if z is None or not z.alive:
            z = gen.zygote = self._start(gen)
        wp.zygote = z
        if not z.ask(wp, gen.sb.offset(wp.slot)):
            log.log('the %s zygote (pid: %d) is gone; worker %d waits for its exit' % (gen.kind.name, z.pid, wp.id))

    def _start(self, gen):
        master = self.pool.master
        ctl_r, ctl_w = os.pipe()
        ev_r, ev_w = os.pipe()
        gen_fds = {l.fd for l in gen.listeners}
        close_fds = [fd for fd in master.master_fds() if fd not in gen_fds] + [ctl_w, ev_r]
        extra = {'KAISER_ZYGOTE': '1', 'KAISER_CONTROL_FD': str(ctl_r)}
        pid = exec_kind_child(gen, 0, 0, ev_w, master.life_r, close_fds, extra, [ctl_r])
        os.close(ctl_r)
        os.close(ev_w)
        os.set_blocking(ev_r, False)
        z = Zygote(gen, pid, ctl_w, ev_r)
        self.by_pid[pid] = z
        master.loop.add(ev_r, lambda: self.on_events(z))
        log.log('spawned the %s zygote of generation %d (pid: %d): it loads the app and forks the workers'
                % (gen.kind.name, gen.number, pid))
        return z

    def on_events(self, z):
        pool = self.pool
        for msg in z.messages():
            act = msg.get('act')
            pid = _int(msg.get('pid'))
            if pid is None or pid == z.pid:
                if act == 'load-failed':
                    z.error = msg.get('error') or 'unknown error'
                elif act == 'exited':
                    wpid = _int(msg.get('worker'))
                    z.forked.discard(wpid)
                    wp = pool.workers.pop(wpid, None)
                    if wp is not None:
                        pool.on_exit(wp, _int(msg.get('status')) or 0)
                continue
            if act == 'spawned':
                wp = z.pending.pop(_int(msg.get('slot')), None)
                if wp is None:
                    log.log('the %s zygote forked pid %d for no worker: killing it' % (z.gen.kind.name, pid))
                    terminate.send_signal(pid, KILLED_STATUS)
                    continue
                z.forked.add(pid)
                pool.bind(wp, pid)
                continue
            wp = pool.workers.get(pid)
            if wp is not None:
                pool.handle(wp, msg)

    def on_exit(self, pid, status):
        """A zygote was reaped; False when `pid` is no zygote."""
        z = self.by_pid.pop(pid, None)
        if z is None:
            return False
        self.on_events(z)           # its last words (load-failed) and its workers' may still be in the pipe
        z.alive = False
        pool = self.pool
        pool.master.loop.remove(z.ev_r)
        os.close(z.ev_r)
        z.ev_r = None
        z.retire()
        code = os.waitstatus_to_exitcode(status)
        err = z.error or 'the %s zygote exited with status %s before forking the worker' % (z.gen.kind.name, code)
        if z.pending:
            log.log('the %s zygote (pid: %d) exited with status %s' % (z.gen.kind.name, pid, code))
        pending = list(z.pending.values())
        z.pending.clear()
        for wp in pending:
            pool.workers.pop(wp.key(), None)
        for wp in pending:
            wp.error = err
            pool.on_exit(wp, EXIT_NEED_APP << 8)
        for wpid in sorted(z.forked):
            # its workers outlive it, but nobody can report their exits any more: they go, and are respawned
            wp = pool.workers.pop(wpid, None)
            if wp is not None:
                log.log('the zygote of worker %d (pid: %d) is gone: killing the worker' % (wp.id, wpid))
                wp.kill()
                pool.on_exit(wp, KILLED_STATUS)
        z.forked.clear()
        return True


def _int(value):
    """A number of a message: the Perl worker sends every value as a JSON string."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
