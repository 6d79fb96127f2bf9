/**
 * The no-orphan guarantee. A tiny /bin/sh process (about 1 MB) that the emperor starts once and tells, over its
 * stdin, which process groups it has spawned (`+PGID`) and which are gone (`-PGID`). It ignores every signal but
 * SIGKILL; when its stdin reaches EOF (the emperor died, even by SIGKILL) it SIGKILLs every group it still knows and
 * exits. Node cannot set PR_SET_PDEATHSIG on its children, and pdeathsig would not reach grandchildren anyway; a
 * process group does. Programs that leave their group (setsid, double fork) escape it: run those under systemd
 * (KillMode=control-group) or in a cgroup.
 */
import type {SpawnedProcess, System} from '../system/system.js';

const SCRIPT = `
trap '' INT TERM HUP QUIT USR1 USR2 PIPE
groups=' '
while read -r line; do
  pg=\${line#?}
  case "$line" in
    +*) groups="$groups$pg " ;;
    -*) case "$groups" in *" $pg "*) groups="\${groups%%" $pg "*} \${groups#*" $pg "}" ;; esac ;;
  esac
done
for pg in $groups; do kill -KILL "-$pg" 2>/dev/null; done
exit 0
`;

/** Handle on the reaper process. */
export class Reaper {
  readonly #sys: System;
  #child: SpawnedProcess | undefined;
  #exited = false;
  readonly #groups = new Set<number>();
  #closing = false;

  constructor(sys: System) {
    this.#sys = sys;
  }

  /** Starts the reaper (and restarts it if it ever dies while the emperor runs). */
  start(): void {
    const child = this.#sys.spawn('/bin/sh', ['-c', SCRIPT], {stdin: true, quiet: true});
    this.#exited = false;
    void child.exited.then(() => {
      if (this.#child !== child) return;
      this.#exited = true;
      if (!this.#closing) this.start();
    });
    this.#child = child;
    for (const pg of this.#groups) this.#write(`+${pg}\n`);
  }

  /** Remembers a group to kill if the emperor dies. */
  add(pgid: number): void {
    if (pgid <= 0) return;
    this.#groups.add(pgid);
    this.#write(`+${pgid}\n`);
  }

  /** Forgets a group (its leader has exited and been reaped). */
  remove(pgid: number): void {
    if (!this.#groups.delete(pgid)) return;
    this.#write(`-${pgid}\n`);
  }

  /** Closes the reaper's stdin: it kills any group still known and exits. Resolves when it has exited. */
  async close(): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (!child || this.#exited) return;
    child.stdin?.end();
    await child.exited;
  }

  #write(text: string): void {
    const stdin = this.#child?.stdin;
    if (stdin && stdin.writable) stdin.write(text);
  }
}
