"""A worker that loads its app while other workers of the vassal serve (a reload's replacement, a recycled or
respawned worker) does so at a lower CPU priority, and returns to its starting priority before it accepts.

Why: importing an app (FastAPI: ~1 s of CPU) next to the workers still serving took a core from them; on 2 cores
the longest wait of a client grew from ~20 ms to 70-180 ms across a reload (bench/asgi.py, PARTS=reload). At
`load-nice` 10 the kernel gives the loading worker about a tenth of the CPU the serving ones get when they compete
(CFS weights 110 vs 1024) and all the CPU they leave idle.

Owns: deciding whether this process may lower its priority (only when it can raise it back: a lowered priority
never outlives the load), lowering it, and restoring it on every thread. Raising a nice value back down needs
CAP_SYS_NICE or an RLIMIT_NICE that allows the starting value (20 - nice); a tenant's worker (uid dropped, the
usual RLIMIT_NICE of 0) therefore loads at normal priority unless the emperor's limits allow it (systemd's
LimitNICE=+0, or host_fork.py raising the limit as root before it drops the uid).
"""
import errno
import os

CAP_SYS_NICE = 23


def can_return(base, status_text=None, limits_text=None):
    """True when this process may set its nice value back to `base` after raising it. The texts are
    /proc/self/status and /proc/self/limits (read when None)."""
    if status_text is None:
        status_text = _read('/proc/self/status')
    for line in status_text.splitlines():
        if line.startswith('CapEff:'):
            try:
                if int(line.split()[1], 16) >> CAP_SYS_NICE & 1:
                    return True
            except (IndexError, ValueError):
                pass
    return nice_rlimit(limits_text) >= 20 - base


def nice_rlimit(limits_text=None):
    """The soft RLIMIT_NICE from /proc/self/limits (0 when unreadable; 'unlimited' counts as 40)."""
    if limits_text is None:
        limits_text = _read('/proc/self/limits')
    for line in limits_text.splitlines():
        if line.startswith('Max nice priority'):
            soft = line[len('Max nice priority'):].split()[0]
            if soft == 'unlimited':
                return 40
            try:
                return int(soft)
            except ValueError:
                return 0
    return 0


def lower(by):
    """Raises this (single-threaded, just forked) process's nice value by `by` -> the value to restore, or None
    when nothing was changed (`by` 0, or no way back)."""
    if not by or by <= 0:
        return None
    try:
        base = os.getpriority(os.PRIO_PROCESS, 0)
        if not can_return(base):
            return None
        os.setpriority(os.PRIO_PROCESS, 0, min(base + int(by), 19))
    except OSError:
        return None
    return base


def restore(base):
    """Every thread of this process back to nice `base` (threads the app started while loading inherited the
    lowered value) -> the error text of a thread that could not be restored, or None."""
    if base is None:
        return None
    error = None
    try:
        tids = [int(t) for t in os.listdir('/proc/self/task')]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, base)
        except OSError as e:
            if e.errno != errno.ESRCH:      # the thread ended meanwhile
                error = 'cannot restore the nice value %d of thread %d: %s' % (base, tid, e.strerror)
    return error


def allow_return_as_root():
    """In a process about to drop root for a tenant uid (host_fork.py): let it, and its workers, return to the
    current nice value after raising it (RLIMIT_NICE = 20 - nice). Needs CAP_SYS_RESOURCE when the hard limit is
    lower; without it nothing changes (the tenant's workers then load at normal priority)."""
    import resource
    want = 20 - os.getpriority(os.PRIO_PROCESS, 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= want else want
        resource.setrlimit(resource.RLIMIT_NICE, (want, new_hard))
    except (OSError, ValueError):
        pass


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ''
