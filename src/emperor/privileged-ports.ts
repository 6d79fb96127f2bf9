/**
 * Privileged ports in tyrant mode. The emperor binds a command vassal's `socket` (and an on-demand vassal's
 * addresses) itself, as root, so without a rule any tenant could take port 80 or 22 by naming it. As the kernel does
 * for unprivileged processes, a port below `net.ipv4.ip_unprivileged_port_start` (1024 by default) needs an
 * explicit allowance: `--emperor-privileged-port USER:PORT[,PORT…]` (repeatable; a user name or uid) lets that
 * user's vassals hold those ports, as systemd gives a service CAP_NET_BIND_SERVICE or a .socket unit. Outside
 * tyrant mode vassal files are the operator's, and nothing changes.
 */
import {readFileSync} from 'node:fs';
import {formatError} from '../errors.js';
import {err, ok, type Result} from '../result.js';
import type {Identity, UserLookup} from './identity.js';

/** Allowed privileged ports by uid, and where privileged ports end. */
export interface PrivilegedPorts {
  /** Ports below this are privileged (the kernel's ip_unprivileged_port_start). */
  readonly unprivilegedFrom: number;
  readonly allowed: ReadonlyMap<number, ReadonlySet<number>>;
}

/** The kernel's first unprivileged port (1024 when it cannot be read). */
export function unprivilegedPortStart(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): number {
  try {
    const value = Number(read('/proc/sys/net/ipv4/ip_unprivileged_port_start').trim());
    return Number.isInteger(value) && value >= 0 ? value : 1024;
  } catch {
    return 1024;
  }
}

/** Parses `--emperor-privileged-port` entries (`www-data:80,443`, `1001:25`). */
export function parsePrivilegedPorts(entries: readonly string[], users: UserLookup, unprivilegedFrom: number): Result<PrivilegedPorts, string> {
  const allowed = new Map<number, Set<number>>();
  for (const entry of entries) {
    const match = /^([^:]+):(\d+(?:,\d+)*)$/.exec(entry.trim());
    if (!match) return err(`--emperor-privileged-port "${entry}": expected USER:PORT[,PORT…]`);
    const who = match[1] ?? '';
    const uid = /^\d+$/.test(who) ? Number(who) : users.user(who)?.uid;
    if (uid === undefined) return err(`--emperor-privileged-port "${entry}": no user "${who}" (getent passwd) (use a uid)`);
    const ports = allowed.get(uid) ?? new Set<number>();
    for (const port of (match[2] ?? '').split(',').map(Number)) {
      if (port < 1 || port > 65535) return err(`--emperor-privileged-port "${entry}": ${port} is not a port`);
      ports.add(port);
    }
    allowed.set(uid, ports);
  }
  return ok({unprivilegedFrom, allowed});
}

/** The TCP port of an emperor-held address (`tcp://HOST:PORT`), or undefined for a unix one. */
function portOf(address: string): number | undefined {
  const match = /^tcp:\/\/.*:(\d+)$/.exec(address);
  return match ? Number(match[1]) : undefined;
}

/**
 * Refuses (`CODE message`) a privileged port among `addresses` that `user` has no allowance for. `user` undefined
 * (the vassal runs as the emperor) is not checked.
 */
export function checkPrivilegedPorts(vassal: string, addresses: readonly string[], user: Identity | undefined, policy: PrivilegedPorts): Result<void, string> {
  if (user === undefined || user.uid === 0) return ok(undefined);
  for (const address of addresses) {
    const port = portOf(address);
    if (port === undefined || port === 0 || port >= policy.unprivilegedFrom) continue;
    if (policy.allowed.get(user.uid)?.has(port)) continue;
    return err(`KAISER_SOCKET_PRIVILEGED_PORT ${formatError('KAISER_SOCKET_PRIVILEGED_PORT', {vassal, address, port, uid: user.uid})}`);
  }
  return ok(undefined);
}
