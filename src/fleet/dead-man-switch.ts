/**
 * Fast failover when an emperor process dies (SIGKILL, crash, OOM) while its machine lives: a tiny python3 helper
 * holds a pipe from the emperor, and when that pipe reaches EOF without a goodbye it SIGKILLs the process groups of
 * the emperor's fleet vassals, waits until they are gone, and only then revokes the emperor's lease through etcd's
 * HTTP gateway (`POST /v3/lease/revoke`, in etcd 3.4 to 3.6). Other emperors see the claims vanish at once instead of
 * after the lease TTL, and no replica runs twice because the old copies are dead before the lease goes. When the
 * whole machine is lost the helper dies with it and the TTL applies as before. Like the emperor's reaper it ignores
 * every signal but SIGKILL. Protocol on its stdin: `L <lease>`, `P <pid> <pid>…` (current vassal leaders), `Q` (the
 * emperor revokes the lease itself: just exit).
 */
import {spawn, type ChildProcess} from 'node:child_process';
import type {Logger} from '../log/logger.js';

const SCRIPT = String.raw`
import json, os, signal, sys, time, urllib.request
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
endpoints = sys.argv[1].split(',')
lease, pids = None, []
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(' ')
    if cmd == 'L':
        lease = arg
    elif cmd == 'P':
        pids = [int(p) for p in arg.split() if p.isdigit()]
    elif cmd == 'Q':
        sys.exit(0)
def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
for pid in pids:
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
deadline = time.time() + 5
while time.time() < deadline and any(alive(p) for p in pids):
    time.sleep(0.01)
if lease:
    for endpoint in endpoints:
        try:
            req = urllib.request.Request(endpoint + '/v3/lease/revoke', data=json.dumps({'ID': lease}).encode(), headers={'Content-Type': 'application/json'})
            urllib.request.urlopen(req, timeout=1).read()
            break
        except Exception:
            continue
`;

/** The emperor's side of the helper. */
export class DeadManSwitch {
  readonly #child: ChildProcess | undefined;
  #lastPids = '';

  constructor(options: {python: string; endpoints: readonly string[]; log: Logger}) {
    try {
      const child = spawn(options.python, ['-c', SCRIPT, options.endpoints.join(',')], {stdio: ['pipe', 'ignore', 'ignore'], detached: true});
      child.on('error', (error) => options.log.warn('fleet dead-man switch unavailable', {error: String(error), uwsgi: '[fleet] no python3 for fast failover: the lease TTL applies'}));
      child.stdin?.on('error', () => undefined);
      child.unref();
      this.#child = child;
    } catch (error) {
      options.log.warn('fleet dead-man switch unavailable', {error: String(error)});
    }
  }

  /** The lease to revoke if the emperor dies. */
  setLease(lease: string): void {
    this.#write(`L ${lease}\n`);
  }

  /** Leaders of the fleet vassals that must be dead before the lease goes. */
  setVassalPids(pids: readonly number[]): void {
    const line = `P ${[...pids].sort((a, b) => a - b).join(' ')}\n`;
    if (line === this.#lastPids) return;
    this.#lastPids = line;
    this.#write(line);
  }

  /** The emperor leaves in order (it revokes its lease itself). */
  close(): void {
    this.#write('Q\n');
    this.#child?.stdin?.end();
  }

  #write(line: string): void {
    const stdin = this.#child?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(line);
  }
}
