/**
 * Listening sockets the emperor owns on behalf of socket-activated command vassals (`socket = "tcp://…"`), handed
 * to each instance as inherited fds from 3 with systemd's LISTEN_FDS convention. Because the emperor keeps them open
 * across restarts and reloads, connections queue in the kernel backlog while a program restarts instead of being
 * refused, and an old and a new instance can accept side by side during a reload.
 *
 * The emperor must hold the socket without accepting on it, which Node's net.Server cannot do (libuv accepts as soon
 * as it listens). So the socket is created and bound through Node's tcp_wrap/pipe_wrap handles without libuv
 * listening, and listen(2) is called once by a short-lived python3 helper on the inherited fd.
 *
 * A socket belongs to the user its first vassal runs as: vassals of that user may share it (a reload, a pool), a
 * vassal of another user naming the same address is refused (issue 14: a tenant must not receive another tenant's
 * listening socket). A unix socket of a vassal that runs as another user is bound, chmod'ed and later removed as
 * that user (user-actions.ts), never as the emperor; one of the emperor's own is replaced only if it is a socket.
 */
import {spawn} from 'node:child_process';
import {lstatSync, unlinkSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';
import type {Identity} from './identity.js';
import {bindUnixAs, HELPER_ENV, removeSocketAs} from './user-actions.js';

interface RawHandle {
  fd: number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  close(callback?: () => void): void;
}
interface TcpBinding {
  TCP: new (type: number) => RawHandle & {getsockname(out: Record<string, unknown>): number};
  constants: {SERVER: number};
}
interface PipeBinding {
  Pipe: new (type: number) => RawHandle & {bind(path: string): number};
  constants: {SERVER: number};
}

// process.binding is the only way to own a bound socket without libuv accepting on it (see the header).
const binding = (process as unknown as {binding(name: string): unknown}).binding.bind(process);

/** Something that can call listen(2) on a bound socket for us and keep a copy (the runtime host). */
export interface SocketHost {
  readonly available: boolean;
  /** Resolves true once the socket listens. */
  addSocket(key: string, handle: object): Promise<boolean>;
  /** Binds and listens on `key` in the host only; resolves with an error text, or undefined once listening. */
  bindSocket(key: string): Promise<string | undefined>;
  closeSocket(key: string): void;
  /** Resolves once no copy of `key`'s handle is still being sent (only then may it be closed). */
  whenSent(key: string): Promise<void>;
}

/** A socket the store owns. */
export interface OwnedSocket {
  address: string;
  fd: number;
  /** Name for LISTEN_FDNAMES (systemd names may not contain ':'). */
  name: string;
}

/** Who asks for sockets: the vassal, the user it runs as (undefined: the emperor's), how unix ones are made. */
export interface SocketClaim {
  vassal: string;
  user: Identity | undefined;
  /** Sockets only the runtime host needs (on-demand app-server vassals): no copy here when the emperor may bind them. */
  hostOnly?: boolean;
  /** `chmod-socket` of unix sockets (octal text), applied by whoever binds them. */
  chmod?: string;
}

/** Why sockets could not be had: held for another user (`taken`, `holder` says whose), or the bind failed. */
export type SocketFailure = {kind: 'taken'; address: string; holder: string} | {kind: 'bind'; address: string; message: string};

interface Entry {
  socket: OwnedSocket;
  /** The user the socket was bound for (undefined: the emperor's own). */
  user: Identity | undefined;
  /** Undefined for a socket only the runtime host holds (`hostOnly`). */
  handle: RawHandle | undefined;
  /** The vassals claiming it (usually one: an array is a fraction of a Set's size, which counts at 10,000 sockets). */
  users: string[];
  /** The runtime host holds a copy (and listened on it). */
  hosted: boolean;
}

const errnoName = (code: number) => {
  const names: Record<number, string> = {[-98]: 'EADDRINUSE', [-13]: 'EACCES', [-99]: 'EADDRNOTAVAIL', [-22]: 'EINVAL', [-2]: 'ENOENT'};
  return names[code] ?? `errno ${code}`;
};

/** Owns listening sockets by address, shared by the vassals that name them. */
export class SocketStore {
  readonly #entries = new Map<string, Entry>();
  readonly #python: string;
  readonly #backlog: number;

  /** Listens for us when it is up (the runtime host: no process per socket, and it can watch them for wake-ups). */
  readonly #host: SocketHost | undefined;

  constructor(python: string, host?: SocketHost, backlog = 1024) {
    this.#python = python;
    this.#host = host;
    this.#backlog = backlog;
  }

  /**
   * Binds (or reuses) the sockets for `claim.vassal`; all or nothing. A socket held for another user is refused.
   * With `hostOnly`, sockets that only the runtime host needs (on-demand app-server vassals: the host watches them and
   * hands them to the masters it forks) are bound by the host itself: no copy here, no fd passing per socket.
   */
  async acquire(claim: SocketClaim, addresses: readonly string[]): Promise<Result<OwnedSocket[], SocketFailure>> {
    const {vassal, user} = claim;
    const got: OwnedSocket[] = [];
    for (const address of addresses) {
      const existing = this.#entries.get(address);
      if (existing) {
        if (userKey(existing.user) !== userKey(user)) {
          this.release(vassal, addresses);
          const holder = existing.user === undefined ? 'the emperor\'s user' : `uid ${existing.user.uid}`;
          return err({kind: 'taken', address, holder});
        }
        if (!existing.users.includes(vassal)) existing.users.push(vassal);
        got.push(existing.socket);
        continue;
      }
      // A unix socket of another user's vassal is bound by that user: the host would bind it as root.
      const asUser = user !== undefined && address.startsWith('unix:');
      const bound = claim.hostOnly === true && !asUser && this.#host?.available ? await this.#bindInHost(address) : await this.#bind(address, claim);
      if (!bound.ok) {
        this.release(vassal, addresses);
        return err({kind: 'bind', address, message: `cannot bind ${address}: ${bound.error}`});
      }
      const {socket, handle, hosted} = bound.value;
      this.#entries.set(address, {socket, user, handle, users: [vassal], hosted});
      got.push(bound.value.socket);
    }
    return ok(got);
  }

  /** Closes our copy; a copy handed to the runtime host is closed only once its send has completed. */
  #close(address: string, entry: Entry): void {
    const handle = entry.handle;
    entry.handle = undefined;
    if (!entry.hosted || !this.#host) return void handle?.close();
    this.#host.closeSocket(address);
    void this.#host.whenSent(address).then(() => handle?.close());
  }

  /** The socket bound at `address`; it must have been acquired, not host-only. */
  owned(address: string): OwnedSocket {
    const entry = this.#entries.get(address);
    if (!entry || entry.handle === undefined) throw new Error(`Internal error: socket ${address} was not acquired here`);
    return entry.socket;
  }

  async #bindInHost(address: string): Promise<Result<{socket: OwnedSocket; handle: undefined; hosted: true}, string>> {
    const error = await this.#host!.bindSocket(address);
    if (error !== undefined) {
      this.#host!.closeSocket(address);
      return err(error);
    }
    return ok({socket: {address, fd: -1, name: address.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 255)}, handle: undefined, hosted: true});
  }

  /** Gives up `vassal`'s claim on these addresses; a socket nobody claims is closed. */
  release(vassal: string, addresses: readonly string[]): void {
    for (const address of addresses) {
      const entry = this.#entries.get(address);
      const at = entry ? entry.users.indexOf(vassal) : -1;
      if (!entry || at < 0) continue;
      entry.users.splice(at, 1);
      if (entry.users.length > 0) continue;
      this.#entries.delete(address);
      this.#close(address, entry);
      if (address.startsWith('unix:')) removeSocketFile(address.slice(5), entry.user);
    }
  }

  /** Closes every socket. */
  closeAll(): void {
    for (const [address, entry] of this.#entries) this.#close(address, entry);
    this.#entries.clear();
  }

  async #bind(address: string, claim: SocketClaim): Promise<Result<{socket: OwnedSocket; handle: RawHandle; hosted: boolean}, string>> {
    let handle: RawHandle;
    let listening = false;
    if (address.startsWith('unix:') && claim.user !== undefined) {
      const received = await bindUnixAs(this.#python, claim.user, address.slice(5), this.#backlog, claim.chmod);
      if (!received.ok) return err(received.error);
      handle = received.value as RawHandle;
      listening = true;
    } else if (address.startsWith('unix:')) {
      const path = address.slice(5);
      const {Pipe, constants} = binding('pipe_wrap') as PipeBinding;
      const pipe = new Pipe(constants.SERVER);
      removeStaleSocket(path);
      const code = pipe.bind(path);
      if (code !== 0) {
        pipe.close();
        return err(errnoName(code));
      }
      handle = pipe;
    } else {
      const match = /^tcp:\/\/(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
      if (!match) return err('not tcp://HOST:PORT or unix:/path');
      const host = match[1] ?? (match[2] || '0.0.0.0');
      const {TCP, constants} = binding('tcp_wrap') as TcpBinding;
      const tcp = new TCP(constants.SERVER);
      const port = Number(match[3]);
      const code = match[1] !== undefined ? tcp.bind6(host, port, 0) : tcp.bind(host, port);
      // libuv defers EADDRINUSE from bind to listen; an unbound socket would then listen on a random port. A socket
      // whose name lacks the asked-for port did not bind.
      const name: Record<string, unknown> = {};
      tcp.getsockname(name);
      if (code !== 0 || (port !== 0 && name['port'] !== port)) {
        tcp.close();
        return err(code !== 0 ? errnoName(code) : 'EADDRINUSE (address already in use)');
      }
      handle = tcp;
    }
    let hosted = false;
    if (this.#host?.available) {
      if (!(await this.#host.addSocket(address, handle))) {
        this.#host.closeSocket(address);
        const host = this.#host;
        void host.whenSent(address).then(() => handle.close());
        return err('the runtime host did not listen on it');
      }
      hosted = true;
    } else if (!listening) {
      const listened = await this.#listen(handle.fd);
      if (!listened.ok) {
        handle.close();
        return err(listened.error);
      }
    }
    const name = address.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 255);
    return ok({socket: {address, fd: handle.fd, name}, handle, hosted});
  }

  #listen(fd: number): Promise<Result<true, string>> {
    const script = 'import socket,sys\ns=socket.socket(fileno=3)\ns.listen(int(sys.argv[1]))\ns.detach()';
    return new Promise((resolve) => {
      const child = spawn(this.#python, ['-c', script, String(this.#backlog)], {env: {...HELPER_ENV}, stdio: ['ignore', 'ignore', 'pipe', fd]});
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => (stderr += chunk));
      child.on('error', (error) => resolve(err(`listen failed: ${error.message}`)));
      child.on('close', (code) => resolve(code === 0 ? ok(true) : err(`listen failed: ${stderr.trim() || `exit ${code}`}`)));
    });
  }
}

/** `uid:gid`, or '' for the emperor's own sockets. */
function userKey(user: Identity | undefined): string {
  return user === undefined ? '' : `${user.uid}:${user.gid}`;
}

/** Removes what a previous run left at `path`, only if it is a socket (never a file the path happens to name). */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // nothing there
  }
}

/** A released unix socket's file goes, removed by the user it was bound for. */
function removeSocketFile(path: string, user: Identity | undefined): void {
  if (user !== undefined) return removeSocketAs(user, path);
  removeStaleSocket(path);
}
