"""What the Python benches read from /proc (imported by bench/asgi.py, bench/plugins.py, bench/procname-memory.py
after `sys.path.insert(0, 'bench/lib')`): a process's stat fields, its process tree, and the PSS of a set of
processes, one process's smaps_rollup figures and command name. A process that exits while being read counts as
absent, never as an error.
"""
import os


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11], stime [12]); None
    when the process is gone."""
    try:
        with open('/proc/%s/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(')') + 2:].split()


def children():
    """parent pid -> its children's pids, of every process now."""
    kids = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            fields = stat_fields(entry)
            if fields is not None:
                kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def tree(pid):
    """`pid` first, then all its descendants."""
    kids = children()
    out, todo = [pid], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pss_kb(pids):
    """The sum of Pss (smaps_rollup, KiB) over `pids`."""
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/smaps_rollup' % pid) as f:
                for line in f:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rollup(pid):
    """Every field of /proc/PID/smaps_rollup (Rss, Pss, Private_Dirty...), in KiB; empty when the process is gone."""
    out = {}
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    out[parts[0].rstrip(':')] = int(parts[1])
    except OSError:
        return {}
    return out


def comm(pid):
    """The process's command name (/proc/PID/comm), '' when it is gone."""
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return ''
