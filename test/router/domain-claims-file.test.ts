/**
 * The domain claims file (router/domain-claims-file.ts): what is accepted, what is refused with a reason naming the
 * file, and how it is written (whole, 0600, only when an owner changes). Real files in a temporary directory.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFileSync} from 'node:child_process';
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {DomainClaimsFile, claimsFilePath, formatClaims, parseClaims} from '../../src/router/domain-claims-file.js';
import {resolveStateDir} from '../../src/emperor/state-dir.js';
import {captureLogger} from '../helpers/capture-logger.js';
import {cleanupProcesses, tempDir} from '../helpers/processes.js';

afterEach(() => cleanupProcesses());

const GOVERNED = '/etc/kaiser/vassals';
const since = '2026-12-07T12:00:00.000Z';
const valid = (claims: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({kaiser: 'domain-claims', version: 1, vassals: GOVERNED, claims, ...extra});

describe('parseClaims', () => {
  it('reads what formatClaims writes', () => {
    const claims = new Map([['shop.test', {uid: 1000, vassal: 'a.toml', since}], ['*.blog.test', {uid: 1001, vassal: 'b.ini', since}]]);
    const parsed = parseClaims(formatClaims(claims, GOVERNED), GOVERNED);
    expect(parsed).toEqual({ok: true, value: claims});
  });

  it.each([
    ['garbage', 'not json at all', /^not JSON/],
    ['another JSON', '{"a": 1}', /not a kaiser domain claims file/],
    ['a newer version', valid({}, {version: 2}), /version 2, expected 1/],
    ["another emperor's file", valid({}, {vassals: '/srv/other'}), /written for "\/srv\/other", not for "\/etc\/kaiser\/vassals"/],
    ['claims that are a list', valid({}, {claims: []}), /"claims" is not an object/],
    ['a domain the router would not route', valid({'bad domain!': {uid: 1, vassal: 'a', since}}), /claim "bad domain!": not a domain/],
    ['a domain not in lower case', valid({'Shop.test': {uid: 1, vassal: 'a', since}}), /claim "Shop.test": not a domain/],
    ['a uid that is a string', valid({'shop.test': {uid: '0', vassal: 'a', since}}), /claim "shop.test": "uid" is not a user id/],
    ['a negative uid', valid({'shop.test': {uid: -1, vassal: 'a', since}}), /"uid" is not a user id/],
    ['a fractional uid', valid({'shop.test': {uid: 1.5, vassal: 'a', since}}), /"uid" is not a user id/],
    ['no vassal', valid({'shop.test': {uid: 1, since}}), /"vassal" is not a vassal name/],
    ['a bad date', valid({'shop.test': {uid: 1, vassal: 'a', since: 'yesterday'}}), /"since" is not a date/],
  ])('refuses %s with the reason', (_what, text, reason) => {
    const parsed = parseClaims(text, GOVERNED);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
  });
});

describe('DomainClaimsFile', () => {
  const open = async (path: string) => {
    const log = captureLogger();
    const file = await DomainClaimsFile.open(path, GOVERNED, log.log);
    return {file, log};
  };
  const warnings = (log: ReturnType<typeof captureLogger>) => log.lines.filter((e) => e.level === 'warn').map((e) => String(e['uwsgi']));

  it('starts empty without a file, and writes none while nothing is claimed', async () => {
    const path = claimsFilePath(join(tempDir(), 'state'), GOVERNED);
    const {file, log} = await open(path);
    expect(file.owners()).toEqual(new Map());
    file.update(new Map(), () => undefined);
    file.update(new Map([['owner-less.test', undefined]]), () => undefined);
    await file.flush();
    expect(existsSync(path)).toBe(false);
    expect(warnings(log)).toEqual([]);
  });

  it('writes claims whole, 0600, in a 0700 directory it creates; keeps a record while its owner is unchanged; writes a release', async () => {
    const state = join(tempDir(), 'state');
    const path = claimsFilePath(state, GOVERNED);
    const {file} = await open(path);
    file.update(new Map([['shop.test', 1000]]), () => 'a.toml', new Date(since));
    await file.flush();
    expect((statSync(state).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    expect(readdirSync(state)).toEqual([path.slice(state.length + 1)]); // no temporary file left
    // Another vassal of the same owner now first in the pool: the record (who claimed it, when) stays.
    file.update(new Map([['shop.test', 1000], ['blog.test', 1001]]), (d) => (d === 'shop.test' ? 'b.toml' : 'blog.toml'), new Date('2026-12-08T00:00:00.000Z'));
    await file.flush();
    const reopened = await open(path);
    expect(reopened.file.owners()).toEqual(new Map([['shop.test', 1000], ['blog.test', 1001]]));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({claims: {'shop.test': {uid: 1000, vassal: 'a.toml', since}, 'blog.test': {uid: 1001, vassal: 'blog.toml'}}});
    // Every claim released: the file says so (an emperor restarting now must not bring them back).
    reopened.file.update(new Map(), () => undefined);
    await reopened.file.flush();
    expect((await open(path)).file.owners()).toEqual(new Map());
  });

  it('ignores a corrupt file naming it and the reason, and replaces it on the next change', async () => {
    const state = tempDir();
    const path = claimsFilePath(state, GOVERNED);
    writeFileSync(path, '{"kaiser": "domain-claims", "version": 1, "vassals": "/etc/kaiser/vassals", "claims": {"shop.test": {"uid": "root"', {mode: 0o600});
    const {file, log} = await open(path);
    expect(file.owners()).toEqual(new Map());
    expect(warnings(log)).toEqual([expect.stringMatching(new RegExp(`KAISER_STATE_FILE_INVALID state file ${path} ignored: not JSON`))]);
    file.update(new Map([['shop.test', 1000]]), () => 'a.toml');
    await file.flush();
    expect((await open(path)).file.owners()).toEqual(new Map([['shop.test', 1000]]));
  });

  it('refuses a symbolic link, a FIFO and a directory in its place without reading them', async () => {
    const state = tempDir();
    const path = claimsFilePath(state, GOVERNED);
    const elsewhere = join(state, 'elsewhere.json');
    writeFileSync(elsewhere, valid({'shop.test': {uid: 1, vassal: 'a', since}}), {mode: 0o600});
    symlinkSync(elsewhere, path);
    expect(warnings((await open(path)).log)).toEqual([expect.stringMatching(/ignored: it is a symbolic link/)]);
    const fifo = claimsFilePath(state, '/fifo');
    execFileSync('mkfifo', [fifo]);
    const asFifo = await DomainClaimsFile.open(fifo, '/fifo', captureLogger().log);
    expect(asFifo.owners()).toEqual(new Map());
    const dir = claimsFilePath(state, '/dir');
    mkdirSync(dir);
    const log = captureLogger();
    await DomainClaimsFile.open(dir, '/dir', log.log);
    expect(warnings(log)).toEqual([expect.stringMatching(/ignored: it is a directory, not a regular file/)]);
  });

  it("refuses a file that is not the emperor's user's", async () => {
    const state = tempDir();
    const path = claimsFilePath(state, GOVERNED);
    writeFileSync(path, valid({'shop.test': {uid: 1, vassal: 'a', since}}), {mode: 0o600});
    const log = captureLogger();
    const file = await DomainClaimsFile.open(path, GOVERNED, log.log, (process.getuid?.() ?? 0) + 1);
    expect(file.owners()).toEqual(new Map());
    expect(warnings(log)).toEqual([expect.stringMatching(/ignored: it belongs to uid \d+, not to the emperor/)]);
  });

  it('does not write into a directory others may write to, and says so once', async () => {
    const state = tempDir();
    chmodSync(state, 0o777);
    const path = claimsFilePath(state, GOVERNED);
    const {file, log} = await open(path);
    file.update(new Map([['shop.test', 1000]]), () => 'a.toml');
    await file.flush();
    file.update(new Map([['shop.test', 1001]]), () => 'a.toml');
    await file.flush();
    expect(existsSync(path)).toBe(false);
    expect(warnings(log)).toEqual([expect.stringMatching(new RegExp(`KAISER_STATE_FILE_WRITE cannot write state file ${path}: .* is writable by others \\(mode 777\\)`))]);
  });

  it('names one file per governed directory', () => {
    expect(claimsFilePath('/var/lib/kaiser', '/etc/kaiser/a')).toMatch(/^\/var\/lib\/kaiser\/domain-claims-[0-9a-f]{16}\.json$/);
    expect(claimsFilePath('/s', '/etc/kaiser/a')).not.toBe(claimsFilePath('/s', '/etc/kaiser/b'));
  });
});

describe('resolveStateDir', () => {
  it('is the flag when given, else nothing outside tyrant mode', () => {
    expect(resolveStateDir('/srv/state', false)).toBe('/srv/state');
    expect(resolveStateDir(undefined, false, {uid: 0, env: {STATE_DIRECTORY: '/var/lib/kaiser'}})).toBeUndefined();
  });

  it("under tyrant mode: systemd's StateDirectory, else /var/lib/kaiser for root, else the user's XDG state directory", () => {
    expect(resolveStateDir(undefined, true, {uid: 0, env: {STATE_DIRECTORY: '/var/lib/kaiser-shop:/var/lib/other'}})).toBe('/var/lib/kaiser-shop');
    expect(resolveStateDir(undefined, true, {uid: 0, env: {}})).toBe('/var/lib/kaiser');
    expect(resolveStateDir(undefined, true, {uid: 1000, env: {XDG_STATE_HOME: '/home/a/.state', HOME: '/home/a'}})).toBe('/home/a/.state/kaiser');
    expect(resolveStateDir(undefined, true, {uid: 1000, env: {HOME: '/home/a'}})).toBe('/home/a/.local/state/kaiser');
    expect(resolveStateDir(undefined, true, {uid: 1000, env: {XDG_STATE_HOME: 'relative'}})).toBeUndefined();
  });
});
