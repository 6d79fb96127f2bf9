/**
 * A real etcd cluster for fleet tests: N members on 127.0.0.1 with free ports and data in a temp dir, started through
 * the process rig (so `cleanupProcesses()` kills them by pid and removes the dir). Members can be paused (SIGSTOP:
 * a member that neither answers nor closes connections, the harshest partition) and resumed.
 */
import {execFileSync} from 'node:child_process';
import {join} from 'node:path';
import {freePort, httpGet, startProcess, tempDir, waitFor, type Started} from '../helpers/processes.js';

/** The etcd binary, or undefined when it is not installed (Debian: apt-get install etcd-server). */
export function findEtcd(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v etcd'], {encoding: 'utf8'}).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface EtcdCluster {
  /** `127.0.0.1:PORT,…` as KAISER_ETCD takes it. */
  readonly endpoints: string;
  readonly members: readonly {name: string; clientPort: number; process: Started}[];
  pause(index: number): void;
  resume(index: number): void;
}

/** Starts an `size`-member cluster and waits until every member reports healthy. */
export async function startEtcdCluster(etcd: string, size = 3): Promise<EtcdCluster> {
  const dir = tempDir('kaiser-etcd-');
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({client: await freePort(), peer: await freePort()});
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(',');
  const members = ports.map((p, i) => ({
    name: `m${i}`,
    clientPort: p.client,
    process: startProcess(etcd, [
      '--name', `m${i}`,
      '--data-dir', join(dir, `m${i}`),
      '--listen-client-urls', `http://127.0.0.1:${p.client}`,
      '--advertise-client-urls', `http://127.0.0.1:${p.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${p.peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
      '--initial-cluster', initial,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', 'kaiser-test',
      '--heartbeat-interval', '100',
      '--election-timeout', '1000',
      '--log-level', 'warn',
    ]),
  }));
  await waitFor(async () => {
    const health = await Promise.all(members.map((m) => httpGet(m.clientPort, '/health', 1000)));
    return health.every((h) => h?.status === 200 && h.body.includes('true'));
  }, 20_000, 'a healthy etcd cluster');
  return {
    endpoints: members.map((m) => `127.0.0.1:${m.clientPort}`).join(','),
    members,
    pause: (index) => members[index]!.process.signal('SIGSTOP'),
    resume: (index) => members[index]!.process.signal('SIGCONT'),
  };
}
