#!/usr/bin/python3
"""What process titles cost in memory (src/server/python/procname.py, src/util/process-title.ts).

1. In isolation: a process forked from one that imported the runtime (as the runtime host's masters and the
   masters' workers are) measures its Private_Dirty before and after `set_title`, against a control fork that does
   nothing between its two readings.
2. Where it matters: an emperor with N app-server vassals (1 worker each, zygote on), every vassal serving a few
   requests, then the PSS of the emperor's whole process tree; once with titles, once with KAISER_PROCNAME=0,
   alternating, ROUNDS times. Prints `figure:` lines with medians.

    flock /work/bench.lock python3 bench/procname-memory.py [N] [ROUNDS]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, os.path.join(ROOT, 'src', 'server', 'python'))
import procname  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, 'bench', 'lib'))
from procfs import pss_kb, tree  # noqa: E402 (bench/lib/procfs.py)
from procs import answers_200, free_port  # noqa: E402 (bench/lib/procs.py)

HELLO = os.path.join(ROOT, 'test', 'fixtures', 'apps', 'hello.py')


def private_dirty_kib(pid='self'):
    with open('/proc/%s/smaps_rollup' % pid) as f:
        for line in f:
            if line.startswith('Private_Dirty:'):
                return int(line.split()[1])
    return 0


def isolated(titled, rounds):
    growth = []
    for _ in range(rounds):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            private_dirty_kib()  # the reading's own first allocations happen here, not between the two readings
            before = private_dirty_kib()
            if titled:
                procname.set_title('kaiser worker 1 shop.ini')
            os.write(w, str(private_dirty_kib() - before).encode())
            os._exit(0)
        os.close(w)
        growth.append(int(os.read(r, 50)))
        os.close(r)
        os.waitpid(pid, 0)
    return growth


def emperor_pss(n, titled):
    """PSS (KiB) of an emperor's tree with `n` serving vassals, and of the runtime host, masters and workers."""
    work = tempfile.mkdtemp(prefix='kaiser-procname-')
    try:
        ports = [free_port() for _ in range(n)]
        for i, port in enumerate(ports):
            with open(os.path.join(work, 'v%03d.ini' % i), 'w') as f:
                f.write('[uwsgi]\nhttp-socket = 127.0.0.1:%d\nwsgi-file = %s\nprocesses = 1\ndisable-logging = true\n' % (port, HELLO))
        env = dict(os.environ, KAISER_PROCNAME='1' if titled else '0')
        emperor = subprocess.Popen(['node', os.path.join(ROOT, 'bin', 'kaiser.js'), '--emperor', work, '--control', os.path.join(work, 'c.sock')],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.time() + 120
            if not all(answers_200(port, deadline, 0.1) for port in ports):
                raise RuntimeError('vassals did not serve')
            for _ in range(20):
                for port in ports:
                    answers_200(port, time.time() + 5, 0.1)
            time.sleep(2)
            everyone = set(tree(emperor.pid))
            vassals = everyone - {emperor.pid} - {p for p in everyone if _is_helper(p)}
            return pss_kb(everyone), pss_kb(vassals)
        finally:
            os.killpg(emperor.pid, 15)
            emperor.wait(60)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _is_helper(pid):
    """The reaper (/bin/sh): not part of what vassals cost. (The runtime host is: masters share its memory.)"""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().startswith(b'/bin/sh')
    except OSError:
        return True


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    procname.argv_area()  # found once in the parent, as the runtime host does
    for titled, label in ((False, 'control'), (True, 'set_title')):
        growth = isolated(titled, 30)
        print('figure: isolated_fork_private_dirty_growth_kib %s median %s (min %s, max %s, 30 forks)'
              % (label, statistics.median(growth), min(growth), max(growth)))
    results = {True: [], False: []}
    for _ in range(rounds):
        for titled in (True, False):
            results[titled].append(emperor_pss(n, titled))
    for titled, label in ((True, 'titles'), (False, 'KAISER_PROCNAME=0')):
        trees = [r[0] for r in results[titled]]
        vassals = [r[1] for r in results[titled]]
        print('figure: emperor_tree_pss_mib %s N=%d median %.1f (%s)' % (label, n, statistics.median(trees) / 1024, ', '.join('%.1f' % (t / 1024) for t in trees)))
        print('figure: vassal_pss_kib_per_vassal %s median %.0f (host, masters and workers over N)' % (label, statistics.median(vassals) / n))
    with_titles = statistics.median(r[1] for r in results[True])
    without = statistics.median(r[1] for r in results[False])
    print('figure: vassal_pss_titles_over_none ratio %.3f (difference %.0f KiB per vassal)' % (with_titles / without, (with_titles - without) / n))


if __name__ == '__main__':
    main()
