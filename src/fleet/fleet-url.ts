/**
 * `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` → endpoints and key prefix. Owns the spelling of fleet addresses on the
 * command line (`--emperor etcd://…`, `--etcd`, `KAISER_ETCD`) and the normal form of a prefix (`/kaiser`: one leading
 * slash, no trailing slash), so every emperor and every `kaiser fleet` command agrees on the keys.
 */
import {err, ok, type Result} from '../result.js';

/** Where a fleet lives: the etcd client endpoints (`http://127.0.0.1:2379`) and the key prefix. */
export interface FleetAddress {
  readonly endpoints: readonly string[];
  readonly prefix: string;
}

/** The default key prefix when none is given. */
export const DEFAULT_FLEET_PREFIX = '/kaiser';

/** Whether an `--emperor` value names a fleet rather than a directory. */
export function isFleetUrl(value: string): boolean {
  return value.startsWith('etcd://');
}

/** `a:2379,b:2379` (with or without `http://`) → endpoint URLs. */
export function parseEndpoints(text: string): Result<string[], string> {
  const endpoints: string[] = [];
  for (const raw of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const bare = raw.replace(/^https?:\/\//, '');
    if (!/^[^\s/:]+:\d{1,5}$/.test(bare)) return err(`bad etcd endpoint "${raw}" (expected HOST:PORT)`);
    endpoints.push(raw.startsWith('https://') ? raw : `http://${bare}`);
  }
  return endpoints.length === 0 ? err('no etcd endpoint given') : ok(endpoints);
}

/** `kaiser` or `/kaiser/` → `/kaiser`. */
export function normalizePrefix(text: string): Result<string, string> {
  const trimmed = text.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return err('the fleet prefix is empty');
  if (!/^[\w.\-/]+$/.test(trimmed)) return err(`bad fleet prefix "${text}" (letters, digits, . _ - /)`);
  return ok(`/${trimmed}`);
}

/** Parses `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` (the prefix defaults to /kaiser). */
export function parseFleetUrl(url: string): Result<FleetAddress, string> {
  if (!isFleetUrl(url)) return err(`not an etcd:// URL: "${url}"`);
  const rest = url.slice('etcd://'.length);
  const slash = rest.indexOf('/');
  const hosts = slash === -1 ? rest : rest.slice(0, slash);
  const endpoints = parseEndpoints(hosts);
  if (!endpoints.ok) return endpoints;
  const prefix = slash === -1 || rest.slice(slash + 1) === '' ? ok(DEFAULT_FLEET_PREFIX) : normalizePrefix(rest.slice(slash));
  if (!prefix.ok) return prefix;
  return ok({endpoints: endpoints.value, prefix: prefix.value});
}

/** The address as `kaiser ls` shows it: `etcd://127.0.0.1:2379,127.0.0.1:2380/kaiser`. */
export function formatFleetUrl(address: FleetAddress): string {
  return `etcd://${address.endpoints.map((e) => e.replace(/^http:\/\//, '')).join(',')}${address.prefix}`;
}
