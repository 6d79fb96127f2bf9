"""Process titles for the master, its workers and the runtime host (uWSGI's auto-procname style).

`ps`, `top` and `systemd-cgls` show `kaiser master shop.ini`, `kaiser worker 2 shop.ini`, `kaiser host`; the short
name in /proc/PID/comm (what `top`, `pidof` and `ps -C` match) is the title's first 15 bytes (`kaiser master`,
`kaiser worker 2`), so `pidof kaiser` finds the emperor alone (SIGUSR2, the log-reopen signal of the emperor,
would end a master or a worker).

Mechanism, stdlib only, without a new process (a re-exec would cost an interpreter start and lose what the runtime
host shares copy-on-write) and without ctypes (its import costs a master started directly ~300 KiB):
- the short name: a write to /proc/self/comm (what prctl(PR_SET_NAME) sets, for the main thread);
- the title: /proc/PID/cmdline is the memory between the kernel's arg_start and arg_end (fields 48 and 49 of
  /proc/self/stat), the original argv strings on our own stack. The title is written there through
  /proc/self/mem (a process may always write its own memory) and the rest zeroed. It cannot grow past that area
  (`python3 /…/host.py` leaves ~50 bytes or more), so a long title is cut.
Measured cost (bench/procname-memory.py): the calls themselves dirty a few pages of a forked process; a serving
vassal's memory does not change measurably, as its workers touch those pages anyway.

`KAISER_PROCNAME=0` in the environment leaves titles alone (for that measurement). `title_for(cfg, role, wid)` is
the naming policy; uWSGI's procname options (`procname`, `procname-prefix`, `procname-prefix-spaced`,
`procname-append`, `procname-master`, `auto-procname`) plug in there.
"""
import os

COMM_MAX = 15

_area = None  # (address, size) of the argv area, found on first use
_enabled = None  # whether titles are set, read from the environment on first use (see enabled)


def enabled():
    """Whether titles are set (not with KAISER_PROCNAME=0). Read from the environment once, by the first caller (the
    runtime host, or an exec'd master): forked masters and workers inherit the answer, since looking os.environ up
    in each of them copied pages of the host into it (issue 13: Private_Dirty per forked master and worker ~20-25 kB,
    bench/fork-memory.py)."""
    global _enabled
    if _enabled is None:
        _enabled = os.environ.get('KAISER_PROCNAME', '1') != '0'
    return _enabled


def set_comm(name):
    """The short name (/proc/PID/comm) of the main thread. True when set."""
    try:
        fd = os.open('/proc/self/comm', os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, name.encode('utf-8', 'replace')[:COMM_MAX])
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def argv_area():
    """(address, size) of this process's argv strings, from /proc/self/stat; None where unknown."""
    global _area
    if _area is None:
        try:
            with open('/proc/self/stat', 'rb') as f:
                stat = f.read()
            # Fields after the comm, which may hold spaces and parentheses: split after its closing ')'.
            fields = stat[stat.rindex(b')') + 2:].split()
            # Field 48 (arg_start) is the 46th after the comm (comm is field 2, state field 3 is fields[0]).
            start, end = int(fields[45]), int(fields[46])
            _area = (start, end - start) if end > start else False
        except (OSError, ValueError, IndexError):
            _area = False
    return _area or None


def set_cmdline(title):
    """Writes `title` where `ps` reads the command line; cut to the argv area. True when written."""
    area = argv_area()
    if area is None:
        return False
    address, size = area
    raw = title.encode('utf-8', 'replace')[:size - 1]
    try:
        fd = os.open('/proc/self/mem', os.O_RDWR)
    except OSError:
        return False
    try:
        return os.pwrite(fd, raw + bytes(size - len(raw)), address) == size
    except OSError:
        return False
    finally:
        os.close(fd)


def set_title(title, comm=None):
    """Sets what `ps` shows (`title`) and the short name (`comm`, default the title's first 15 bytes)."""
    if not enabled():
        return
    set_cmdline(title)
    set_comm(title if comm is None else comm)


def uwsgi_title(cfg, role, wid):
    """The title uWSGI 2.0 gives with its procname options (measured): `procname-master` (master) or `procname`,
    else with `auto-procname` or a prefix/suffix `uWSGI master` / `uWSGI worker N`; then `procname-prefix`,
    `procname-prefix-spaced` + a space, and `procname-append` around it. None when no such option is set."""
    cfg = cfg or {}
    prefix = (cfg.get('procname-prefix') or '') + ((cfg.get('procname-prefix-spaced') or '') + ' ' if cfg.get('procname-prefix-spaced') else '')
    append = cfg.get('procname-append') or ''
    name = (cfg.get('procname-master') if role == 'master' else None) or cfg.get('procname')
    if not name:
        if not (cfg.get('auto-procname') or prefix or append):
            return None
        name = 'uWSGI master' if role == 'master' else 'uWSGI worker %s' % wid
    return prefix + name + append


def title_for(cfg, role, wid=None):
    """The title of `role` ('master', 'worker', 'host') for an app server configured by `cfg`: `kaiser master
    shop.ini`, `kaiser worker 2 shop.ini`; a standalone server without a file has no name (`kaiser worker 2`).
    uWSGI's procname options, when set, give uWSGI's titles instead (`uwsgi_title`)."""
    if role != 'host':
        title = uwsgi_title(cfg, role, wid)
        if title is not None:
            return title
    name = (cfg or {}).get('_name') or ''
    words = ['kaiser', role]
    if role == 'worker':
        words.append(str(wid))
    if name and name != 'kaiser' and role != 'host':
        words.append(name)
    return ' '.join(words)
