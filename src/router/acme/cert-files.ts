/**
 * The files ACME owns in the sni-dir: `NAME.key` (0600) and `NAME.crt` (0644, the certificate and its chain), written
 * whole and renamed into place key first, so the HTTPS listener never loads half a file (sni-store.ts keeps the old
 * pair while key and certificate do not match yet); the account key and issue records under `.acme/` (0700); and
 * the HTTP-01 challenge answers under `.acme/challenges/`, read by whichever process serves plain HTTP.
 */
import {chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

/** Where ACME keeps its state inside the sni-dir. */
export function acmeDir(sniDir: string): string {
  return join(sniDir, '.acme');
}

/** The challenge directory inside the sni-dir. */
export function challengeDir(sniDir: string): string {
  return join(acmeDir(sniDir), 'challenges');
}

/** Creates `.acme/` and `.acme/challenges/` (0700/0755: challenge answers are public by design). */
export function ensureAcmeDirs(sniDir: string): void {
  mkdirSync(acmeDir(sniDir), {recursive: true, mode: 0o700});
  chmodSync(acmeDir(sniDir), 0o700);
  mkdirSync(challengeDir(sniDir), {recursive: true, mode: 0o755});
}

/** Writes `path` whole with `mode`, through a temporary file renamed over it. */
export function writeFileAtomic(path: string, data: string | Buffer, mode: number): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data, {mode});
  chmodSync(temporary, mode); // the umask may have taken bits off
  renameSync(temporary, path);
}

/** Puts an issued pair into the sni-dir: key (0600) first, then the certificate chain (0644). */
export function installPair(sniDir: string, name: string, keyPem: string | Buffer, certPem: string | Buffer): void {
  writeFileAtomic(join(sniDir, `${name}.key`), keyPem, 0o600);
  writeFileAtomic(join(sniDir, `${name}.crt`), certPem, 0o644);
}

/** What kaiser remembers of a certificate it ordered (`.acme/NAME.json`): only these are renewed. */
export interface IssueRecord {
  readonly domain: string;
  readonly directory: string;
  readonly issuedAt: string;
  readonly notAfter: string;
}

export function writeIssueRecord(sniDir: string, record: IssueRecord): void {
  writeFileAtomic(join(acmeDir(sniDir), `${record.domain}.json`), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

export function readIssueRecord(sniDir: string, domain: string): IssueRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(acmeDir(sniDir), `${domain}.json`), 'utf8')) as Partial<IssueRecord>;
    if (typeof parsed.domain !== 'string' || typeof parsed.notAfter !== 'string') return undefined;
    return parsed as IssueRecord;
  } catch {
    return undefined;
  }
}

/** Writes the answer to an HTTP-01 challenge. */
export function writeChallenge(sniDir: string, token: string, keyAuthorization: string): void {
  writeFileAtomic(join(challengeDir(sniDir), token), keyAuthorization, 0o644);
}

export function removeChallenge(sniDir: string, token: string): void {
  rmSync(join(challengeDir(sniDir), token), {force: true});
}

/** The answer to an HTTP-01 challenge token, if one is pending (tokens are checked to be base64url by the caller). */
export function readChallenge(sniDir: string, token: string): string | undefined {
  try {
    return readFileSync(join(challengeDir(sniDir), token), 'utf8');
  } catch {
    return undefined;
  }
}
