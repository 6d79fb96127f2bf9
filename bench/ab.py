#!/usr/bin/env python3
"""ab.py: the same bench against two kaiser checkouts, alternating, in one run.

    bench/ab.py BASE_ROOT HEAD_ROOT [ROUNDS] -- CMD [ARGS...]

Runs CMD ROUNDS times (default 3) with KAISER_ROOT=BASE_ROOT, then with KAISER_ROOT=HEAD_ROOT, alternating
(base, head, base, head, ...), so that whatever else the machine does falls on both sides alike. Every
`figure: NAME VALUE UNIT` line CMD prints (with whatever prefix the script puts before `figure:`, e.g. the row
name) is collected per side; the summary gives, per figure, the median of each side, every round's value and the
ratio head/base. Meant for "behaviour unchanged" claims: a refactoring is measured against its parent commit with
the very same scripts (e.g. the #13 structure split: bench/README.md).

Raw output (every round's full stdout and stderr) goes to bench/results/ab.DATE.txt (OUT=FILE to choose).
Example:
    git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)
    flock /work/bench.lock bench/ab.py /tmp/base . 3 -- env ROWS=kaiser-config RUNS=1 bash bench/reload.sh
"""
import os
import re
import statistics
import subprocess
import sys
import time

FIGURE = re.compile(r'^(?P<prefix>.*?)\s*figure:\s+(?P<name>\S+)\s+(?P<value>-?[0-9.]+)\s*(?P<unit>\S*)')


def main(argv):
    if '--' not in argv or argv.index('--') < 2:
        sys.exit(__doc__)
    sep = argv.index('--')
    roots = [os.path.abspath(argv[0]), os.path.abspath(argv[1])]
    rounds = int(argv[2]) if sep > 2 else 3
    cmd = argv[sep + 1:]
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = os.environ.get('OUT') or os.path.join(here, 'results', 'ab.%s.txt' % time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    figures = {}  # (key, unit) -> [[base values], [head values]]
    with open(out_path, 'w') as raw:
        def say(line):
            print(line, flush=True)
            raw.write(line + '\n')
        say('ab: base=%s (%s) head=%s (%s) rounds=%d cmd=%s' % (
            roots[0], rev(roots[0]), roots[1], rev(roots[1]), rounds, ' '.join(cmd)))
        for r in range(rounds):
            for side, root in enumerate(roots):
                label = ('base', 'head')[side]
                say('=== round %d %s (%s, loadavg %s)' % (r + 1, label, time.strftime('%T'), loadavg()))
                proc = subprocess.run(cmd, env={**os.environ, 'KAISER_ROOT': root}, capture_output=True, text=True)
                raw.write(proc.stdout + proc.stderr)
                found = 0
                for line in proc.stdout.splitlines():
                    m = FIGURE.match(line)
                    if m:
                        key = ('%s %s' % (m['prefix'], m['name'])).strip()
                        figures.setdefault((key, m['unit']), ([], []))[side].append(float(m['value']))
                        found += 1
                say('    exit %d, %d figures' % (proc.returncode, found))
        say('')
        say('| figure | unit | base median | head median | head / base | base rounds | head rounds |')
        say('|---|---|---:|---:|---:|---|---|')
        for (key, unit), (base, head) in figures.items():
            mb = statistics.median(base) if base else float('nan')
            mh = statistics.median(head) if head else float('nan')
            ratio = mh / mb if base and head and mb else float('nan')
            say('| %s | %s | %.1f | %.1f | %.2f | %s | %s |' % (key, unit, mb, mh, ratio, fmt(base), fmt(head)))
        say('raw output: %s' % out_path)


def rev(root):
    try:
        return subprocess.run(['git', '-C', root, 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return '?'


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def fmt(values):
    return '/'.join('%g' % v for v in values)


if __name__ == '__main__':
    main(sys.argv[1:])
