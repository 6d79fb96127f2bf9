#!/usr/bin/python3
"""What a forked hello vassal's master and worker hold privately (issue 13, mass hosting), and the code they run.

Measure (default): an emperor from ROOT (a kaiser checkout, built) with N hello vassals (uwsgi-bench's vassal
template: http-socket, wsgi-file, master, 1 worker); the first is exec'd, the others are forked by the runtime host.
After one request each: the median Private_Dirty, Pss and Rss (kB, /proc/PID/smaps_rollup) of the forked masters
and of their workers, and the host's. Private_Dirty does not move with the machine's load: run two checkouts one
after the other (bench/README.md, "The mass-hosting regression").

    flock /work/bench.lock python3 bench/fork-memory.py [ROOT] [N]       (ROOT: this checkout, N: 8)

Record (--record): the functions a forked master and its worker run from the fork to the first request served, in
the order they first run, printed as src/server/python/code_layout.py's HOT (sys.setprofile in the child of an
in-process runtime host, as test_host.ForkedImports forks one).

    python3 bench/fork-memory.py --record
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = os.path.join(HERE, 'uwsgi-bench', 'hitme.py')
sys.path.insert(0, os.path.join(HERE, 'lib'))
from procfs import children, rollup  # noqa: E402 (bench/lib/procfs.py)
from procs import answers_200 as answers, free_port  # noqa: E402 (bench/lib/procs.py)


def measure(root, n):
    work = tempfile.mkdtemp(prefix='kaiser-fork-memory-')
    vassals, stage = os.path.join(work, 'vassals'), os.path.join(work, 'stage')
    os.mkdir(vassals)
    os.mkdir(stage)
    ports = [free_port() for _ in range(n)]
    for i, port in enumerate(ports):
        with open(os.path.join(stage, 'm%d.ini' % i), 'w') as f:
            f.write('[uwsgi]\nplugin = python3\nhttp-socket = 127.0.0.1:%d\nwsgi-file = %s\nmaster = true\n'
                    'processes = 1\n' % (port, HELLO))
    log = open(os.path.join(work, 'emperor.log'), 'w')
    emperor = subprocess.Popen(['node', os.path.join(root, 'bin', 'kaiser.js'), '--emperor', vassals, '--control',
                                os.path.join(work, 'control.sock')], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, cwd=root)
    try:
        time.sleep(1)
        for name in sorted(os.listdir(stage)):
            os.rename(os.path.join(stage, name), os.path.join(vassals, name))
        deadline = time.time() + 120
        if not all(answers(port, deadline) for port in ports):
            sys.exit('not every vassal answered 200; see %s' % log.name)
        time.sleep(1)
        kids = children()
        host = next(k for k in kids.get(emperor.pid, []) if open('/proc/%d/cmdline' % k, 'rb').read().find(b'host') >= 0)
        masters = kids.get(host, [])
        workers = [w for m in masters for w in kids.get(m, [])]
        print('fork-memory: root=%s N=%d loadavg="%s"' % (root, n, ' '.join(open('/proc/loadavg').read().split()[:3])))
        for role, pids in (('host', [host]), ('master', masters), ('worker', workers)):
            rows = [rollup(p) for p in pids]
            # CPU (ms, median): a master's and a worker's whole life so far (start, one request, a second of
            # idling); the host's with its own start (its imports) and all its forks.
            print('%-6s n=%d Private_Dirty %5.0f  Pss %5.0f  Rss %5.0f  (kB, median)  CPU %6.1f ms' % (
                role, len(pids), statistics.median(r['Private_Dirty'] for r in rows),
                statistics.median(r['Pss'] for r in rows), statistics.median(r['Rss'] for r in rows),
                statistics.median(cpu_ms(p) for p in pids)))
    finally:
        os.killpg(emperor.pid, signal.SIGTERM)
        emperor.wait(60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def cpu_ms(pid):
    """CPU time `pid` has run so far (ms, /proc/PID/schedstat: finer than stat's clock ticks); 0 when it is gone."""
    try:
        with open('/proc/%d/schedstat' % pid) as f:
            return int(f.read().split()[0]) / 1e6
    except OSError:
        return 0.0


RECORD = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import _kaiser_bootstrap
from _kaiser import host, host_fork
host.share_with_forks()
out_dir, app, host_pid = sys.argv[2], sys.argv[3], os.getpid()
seen = set()
forked = set()       # pids that forked since: a master after it forked its worker
os.register_at_fork(after_in_parent=lambda: forked.add(os.getpid()))

def record(frame, event, arg):
    if event != 'call' or os.getpid() == host_pid:
        return
    code = frame.f_code
    pid = os.getpid()
    key = (pid, pid in forked, code.co_filename, code.co_qualname)
    if key not in seen:      # per process, and in a master before and after it forked its worker
        seen.add(key)
        fd = os.open(os.path.join(out_dir, str(pid)), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, ('%s\t%s\t%s\t%s\n' % (frame.f_globals.get('__name__'), code.co_filename, code.co_qualname,
                                           'after' if pid in forked else 'before')).encode())
        os.close(fd)

config = {'http-socket': ['127.0.0.1:0'], 'wsgi-file': app, 'master': True, 'processes': 1, '_name': 'app.ini'}
msg = {'op': 'spawn', 'id': 'app.ini', 'config': config, 'env': {'PATH': os.environ['PATH']}, 'cwd': os.path.dirname(app)}
sys.setprofile(record)
pid, out_fd, pipe_fd = host_fork.fork_master(msg, {}, lambda: None)
sys.setprofile(None)
os.write(1, ('MASTER %d\n' % pid).encode())
while True:
    data = os.read(out_fd, 65536)
    if not data:
        break
    os.write(1, data)
os.waitpid(pid, 0)
"""


def record():
    py_dir = os.path.join(HERE, '..', 'src', 'server', 'python')
    sys.path.insert(0, py_dir)
    import _kaiser_bootstrap  # noqa: F401
    from _kaiser import host, code_layout  # noqa: F401 (what the host imports: a name that does not resolve is left out)
    out_dir = tempfile.mkdtemp(prefix='kaiser-hot-code-')
    proc = subprocess.Popen([sys.executable, '-c', RECORD, py_dir, out_dir, HELLO], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    master = None
    try:
        lines = []
        while not any('kaiser is running' in line for line in lines):
            line = proc.stdout.readline().decode()
            if not line:
                sys.exit('the master did not start:\n' + ''.join(lines))
            lines.append(line)
            if line.startswith('MASTER '):
                master = int(line.split()[1])
        port = int(next(line for line in lines if 'bound to TCP address' in line).split(':')[1].split()[0])
        if not answers(port, time.time() + 30):
            sys.exit('the worker did not answer')
        time.sleep(1)
        worker = children().get(master, [None])[0]
        runs = {}            # (module, name) -> the phases it ran in, in the order functions first ran
        for role, pid in (('master', master), ('worker', worker)):
            with open(os.path.join(out_dir, str(pid))) as f:    # read before the stop: a stop is not a start
                for line in f:
                    module, filename, qualname, when = line.rstrip('\n').split('\t')
                    top = qualname.split('.<locals>')[0]   # nested code is copied with its function
                    if top.startswith('<') or module in ('None', '__main__'):
                        continue
                    module = 'importlib._bootstrap' if module == '_frozen_importlib' else module
                    if code_layout._resolve(sys.modules.get(module), top) is None:
                        continue
                    runs.setdefault((module, top), set()).add('worker' if role == 'worker' else 'master ' + when)
    finally:
        for pid in (master, proc.pid):
            if pid is not None:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        proc.wait()
        shutil.rmtree(out_dir, ignore_errors=True)
    # Grouped by who writes them after the master forked its worker (a page of code objects becomes a private copy
    # in each process that runs code on it; one the master wrote before the fork, in both once either writes it
    # again): the master's start only, the master before and after, both processes, the master after only, the
    # worker only. Within a group, in the order they first ran.
    def group(phases):
        master_before, master_after, worker = ('master before' in phases, 'master after' in phases, 'worker' in phases)
        if worker:
            return 2 if master_before or master_after else 4
        if master_after:
            return 1 if master_before else 3
        return 0
    groups = []              # [(module, [names])], consecutive names of one module together
    for g in range(5):
        for (module, name), phases in runs.items():
            if group(phases) != g:
                continue
            if groups and groups[-1][0] == module and groups[-1][2] == g:
                groups[-1][1].append(name)
            else:
                groups.append((module, [name], g))
    print('HOT = (')
    last = None
    for module, names, g in groups:
        if g != last:
            print('    # %s' % ('the master before it forks its worker', 'the master before and after',
                                'the master and the worker', 'the master after', 'the worker')[g])
            last = g
        wrapped = textwrap.wrap(' '.join(names), 100)
        body = ("'\n        '".join(w + ' ' for w in wrapped[:-1]) + ("'\n        '" if len(wrapped) > 1 else '') + wrapped[-1])
        print("    ('%s', '%s')," % (module, body))
    print(')')


if __name__ == '__main__':
    if sys.argv[1:2] == ['--record']:
        record()
    else:
        measure(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '..')),
                int(sys.argv[2]) if len(sys.argv) > 2 else 8)
