#!/usr/bin/python3
"""PSS of a 1-worker FastAPI vassal, builds side by side (issue 17): bench/asgi.py's `pss` set-up (the vassal under a
kaiser emperor, 20 requests, then /proc/PID/smaps_rollup) for several kaiser checkouts and uvicorn, alternating in
every round, with each process's Pss, Private_Dirty and Shared_Dirty. PSS moves by megabytes between rounds with the
other Python processes of a shared machine (the clean pages of python3 and its libraries are split among them);
Private_Dirty does not, so compare builds by it and by PSS in the same round.

  bench/asgi-pss-ab.py ROUNDS VARIANT...   VARIANT: uvicorn | NAME:KAISER_ROOT[:EXTRA_TOML_LINES, ';'-separated]
  e.g. flock /work/bench.lock bench/asgi-pss-ab.py 3 main:/work/main new:. uvicorn

A KAISER_ROOT needs its build (dist/); prints one line per round and variant, then the medians.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asgi as bench  # noqa: E402 (bench/asgi.py: start, stop, wait_200, http_status, command)
from procfs import comm, rollup, stat_fields, tree  # noqa: E402 (bench/lib/procfs.py, on sys.path after importing asgi)


def requests(port):
    for _ in range(20):
        bench.http_status(port)
    time.sleep(1)


def uvicorn():
    port = bench.next_port()
    p = bench.start(bench.command('uvicorn', port, 1))
    procs = []
    if bench.wait_200(port):
        requests(port)
        procs = [('uvicorn', rollup(p.pid))]
    bench.stop(p)
    return procs


def kaiser(root, extra):
    d = tempfile.mkdtemp(prefix='kaiser-asgi-pss-ab-')
    port = bench.next_port()
    with open(os.path.join(d, 'api.toml'), 'w') as f:
        f.write('http-socket = "127.0.0.1:%d"\nasgi = "asgi_hello:app"\nchdir = "%s"\nprocesses = 1\n%s\n' % (
            port, bench.APPS, extra.replace(';', '\n')))
    emperor = bench.start([bench.NODE, os.path.join(root, 'bin/kaiser.js'), '--emperor', d, '--control',
                           os.path.join(d, 'c.sock')])
    procs = []
    if bench.wait_200(port):
        requests(port)
        # the vassal: its master's tree (the emperor's reaper, a /bin/sh serving every vassal, left out)
        masters = [p for p in tree(emperor.pid)[1:] if (stat_fields(p) or ['', ''])[1] == str(emperor.pid)
                   and comm(p) != 'sh']
        procs = [(comm(p) or '?', rollup(p)) for m in masters for p in tree(m)]
    else:
        print('detail: %s never answered: %s' % (root, bench.log_tail(emperor)))
    bench.stop(emperor, 30)
    shutil.rmtree(d, ignore_errors=True)
    return procs


def main():
    rounds, variants = int(sys.argv[1]), sys.argv[2:]
    totals = {v: [] for v in variants}
    for r in range(rounds):
        for v in variants:
            name, _, rest = v.partition(':')
            root, _, extra = rest.partition(':')
            procs = uvicorn() if v == 'uvicorn' else kaiser(os.path.abspath(root), extra)
            total = sum(p.get('Pss', 0) for _, p in procs)
            totals[v].append(total)
            print('round %d %-10s total Pss %6d | %s' % (r + 1, name, total, '  '.join(
                '%s Pss %d PrivD %d ShD %d' % (n, p.get('Pss', 0), p.get('Private_Dirty', 0), p.get('Shared_Dirty', 0))
                for n, p in procs)), flush=True)
    for v in variants:
        print('median %-10s %d kB (%s)' % (v.partition(':')[0], statistics.median(totals[v]),
                                          ' '.join(map(str, totals[v]))))


if __name__ == '__main__':
    try:
        main()
    finally:
        for p in list(bench.STARTED):
            bench.stop(p, 5)
