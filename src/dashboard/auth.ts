/**
 * Who may use the dashboard over TCP: the token book read from `--dashboard-token-file` (one `name:token` per line;
 * blank lines and `#` comments ignored) and the browser sessions a token is exchanged for. Tokens are compared in
 * constant time (SHA-256 digests through `timingSafeEqual`, every entry checked) so response timing tells nothing
 * about a token. A session is a random 256-bit id kept server-side with the token's name; sessions are bounded in
 * number and expire, and the cookie carrying one is HttpOnly and SameSite=Strict.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto';
import {readFile, stat} from 'node:fs/promises';
import {err, ok, type Result} from '../result.js';

/** A token shorter than this is refused when the book is read: tokens must not be guessable. */
export const MIN_TOKEN_LENGTH = 16;
/** The session cookie's name. */
export const SESSION_COOKIE = 'kaiser_session';
/** A session lives this long after its login. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** The oldest session is dropped beyond this many. */
const MAX_SESSIONS = 1024;
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** The tokens allowed to use the dashboard, by name. */
export interface TokenBook {
  /** The name of the token `token`, or undefined when it is no token of the book. */
  verify(token: string): string | undefined;
  readonly size: number;
}

interface TokenEntry {
  readonly name: string;
  readonly digest: Buffer;
}

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Parses the text of a token file. A malformed line is an error naming its line number (never its token). */
export function parseTokenBook(text: string, file = 'token file'): Result<TokenBook, string> {
  const entries: TokenEntry[] = [];
  const names = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    const token = colon < 0 ? '' : line.slice(colon + 1).trim();
    if (name === '' || token === '') return err(`${file}:${i + 1}: expected name:token`);
    if (!/^[\w.@-]{1,64}$/.test(name)) return err(`${file}:${i + 1}: a token name is 1 to 64 letters, digits, or . _ @ -`);
    if (token.length < MIN_TOKEN_LENGTH) return err(`${file}:${i + 1}: the token of ${name} is shorter than ${MIN_TOKEN_LENGTH} characters`);
    if (names.has(name)) return err(`${file}:${i + 1}: the name ${name} appears twice`);
    names.add(name);
    entries.push({name, digest: digestOf(token)});
  }
  if (entries.length === 0) return err(`${file}: no name:token line`);
  return ok({
    size: entries.length,
    verify(token: string): string | undefined {
      const digest = digestOf(token);
      let found: string | undefined;
      // No early exit: every entry is compared, whichever matches.
      for (const entry of entries) if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.name;
      return found;
    },
  });
}

/** Reads a token file. Returns the book and, when others than the owner may read the file, a warning. */
export async function loadTokenBook(path: string): Promise<Result<{book: TokenBook; warning: string | undefined}, string>> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return err(`${path}: not a file`);
    if (st.size > MAX_TOKEN_FILE_BYTES) return err(`${path}: larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    const parsed = parseTokenBook(await readFile(path, 'utf8'), path);
    if (!parsed.ok) return parsed;
    const warning = (st.mode & 0o077) !== 0 ? `${path} is readable by others than its owner (chmod 600 it)` : undefined;
    return ok({book: parsed.value, warning});
  } catch (cause) {
    return err(`cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
}

/** Browser sessions: random id → token name. */
export class SessionBook {
  readonly #sessions = new Map<string, {name: string; expiresAt: number}>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Opens a session for the token `name`; returns its id. */
  open(name: string): string {
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, {name, expiresAt: this.#now() + SESSION_TTL_MS});
    while (this.#sessions.size > MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    return id;
  }

  /** The token name of a live session, or undefined. */
  lookup(id: string): string | undefined {
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session.name;
  }

  /** Ends a session (logout). */
  close(id: string): void {
    this.#sessions.delete(id);
  }
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The token of an `Authorization: Bearer TOKEN` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/** The Set-Cookie value of a session. */
export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`;
}

/** The Set-Cookie value that ends the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}
