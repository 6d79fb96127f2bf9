/**
 * The emperor command line → the fleets it joins. `--emperor` values starting with `etcd://` are fleets (the others
 * are directories, which cli.ts handles), and `--etcd HOST:PORT[,…]` with `--prefix` is one more (the environment's
 * `KAISER_FLEET_PREFIX` applies to it, but `KAISER_ETCD` alone never makes an emperor join a fleet).
 * Settings: `--host-id` (default: the host name), `--tags`, `--fleet-dir` (default `./.kaiser-fleet/HOST-ID`),
 * `--fleet-ttl`, `--fleet-cap`.
 */
import {existsSync} from 'node:fs';
import {hostname} from 'node:os';
import {join, resolve} from 'node:path';
import type {EmperorOptions} from '../config/argv.js';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import {isFleetWord} from './fleet-keys.js';
import {isFleetUrl, parseFleetUrl, type FleetAddress} from './fleet-url.js';
import {resolveFleetAddress} from './commands.js';
import {FleetMonitor} from './monitor.js';

/** `--emperor` values split into directories and fleets. */
export function splitEmperorValues(values: readonly string[]): {dirs: string[]; fleetUrls: string[]} {
  return {dirs: values.filter((v) => !isFleetUrl(v)), fleetUrls: values.filter(isFleetUrl)};
}

/** The fleet monitors the emperor options ask for (none when no fleet is named). */
export function fleetsFromOptions(
  options: Pick<EmperorOptions, 'emperor' | 'hostId' | 'tags' | 'fleetDir' | 'fleetTtlSeconds' | 'fleetCap' | 'etcd' | 'prefix' | 'python'>,
  ctx: {env: Readonly<Record<string, string | undefined>>; cwd: string; log: Logger},
): Result<FleetMonitor[], string> {
  const addresses: FleetAddress[] = [];
  for (const url of splitEmperorValues(options.emperor).fleetUrls) {
    const parsed = parseFleetUrl(url);
    if (!parsed.ok) return err(`--emperor ${url}: ${parsed.error}`);
    addresses.push(parsed.value);
  }
  if (options.etcd !== undefined) {
    const values = new Map([['etcd', options.etcd], ...(options.prefix === undefined ? [] : [['prefix', options.prefix] as [string, string]])]);
    const parsed = resolveFleetAddress(values, ctx.env);
    if (!parsed.ok) return err(`--etcd: ${parsed.error}`);
    addresses.push(parsed.value);
  }
  if (addresses.length === 0) return ok([]);
  const hostId = options.hostId ?? hostname();
  if (!isFleetWord(hostId)) return err(`--host-id "${hostId}": letters, digits, . _ - only`);
  const badTag = options.tags.find((tag) => !isFleetWord(tag));
  if (badTag !== undefined) return err(`--tags: bad tag "${badTag}"`);
  if (options.fleetTtlSeconds < 2) return err('--fleet-ttl: at least 2 seconds');
  const workDir = resolve(ctx.cwd, options.fleetDir ?? join('.kaiser-fleet', hostId));
  return ok(
    addresses.map(
      (address) =>
        new FleetMonitor({
          address,
          hostId,
          tags: options.tags,
          cap: Math.max(0, options.fleetCap),
          workDir,
          ttlSeconds: options.fleetTtlSeconds,
          log: ctx.log,
          python: options.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'),
        }),
    ),
  );
}
