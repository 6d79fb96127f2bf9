/**
 * The System of a running kaiser: node's timers, fs and child_process, chokidar for watching, execa for programs the
 * operator names. One object per process (`realSystem()` returns the same one).
 */
import {spawn as spawnProcess, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {readdir, readFile, stat} from 'node:fs/promises';
import {basename} from 'node:path';
import type {Duplex} from 'node:stream';
import {fileTypeOf, readOnce} from './read-once.js';
import type {DirWatch, ExitStatus, FileStat, SpawnedProcess, SpawnOptions, System} from './system.js';

type Execa = (typeof import('execa'))['execa'];
let execa: Execa | undefined;

let instance: System | undefined;

/** The real world. */
export function realSystem(): System {
  return (instance ??= {
    now: () => Date.now(),
    cpuMs() {
      const {user, system} = process.cpuUsage();
      return (user + system) / 1000;
    },
    setTimer(ms, fn, options) {
      const timer = setTimeout(fn, ms);
      if (options?.background) timer.unref();
      return () => clearTimeout(timer);
    },
    async stat(path): Promise<FileStat> {
      const st = await stat(path);
      return {ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid, isFile: st.isFile(), type: fileTypeOf(st)};
    },
    readFile: (path) => readFile(path),
    readOnce,
    readDir: (dir) => readdir(dir),
    exists: (path) => existsSync(path),
    watchDir,
    spawn,
    async prepareExec() {
      execa ??= (await import('execa')).execa;
    },
    kill(pid, signal) {
      try {
        process.kill(pid, signal);
      } catch {
        // ESRCH: already gone.
      }
    },
  });
}

async function watchDir(dir: string, onName: (name: string | undefined) => void, onError: (error: unknown) => void): Promise<DirWatch> {
  // Loaded on first use: an emperor without a vassal directory (fleet only) never needs it.
  const {watch} = await import('chokidar');
  // chokidar watches the directory only: every file is `ignored`, so it opens no per-file watcher (one inotify watch,
  // FSWatcher, stat cache and listener set per vassal file: about 3.7 kB of heap each, measured with 1000 vassals).
  // The directory's watcher reports each file's creation, removal, rename, write and touch by name, as chokidar's
  // `raw` event.
  const watcher = watch(dir, {depth: 0, ignoreInitial: true, atomic: false, alwaysStat: false, ignored: (path: string) => path !== dir});
  watcher.on('raw', (_event: string, name: unknown, details: unknown) => {
    if ((details as {watchedPath?: unknown} | undefined)?.watchedPath !== dir) return;
    onName(typeof name === 'string' && name !== '' ? basename(name) : undefined);
  });
  watcher.on('error', onError);
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {close: () => watcher.close()};
}

function spawn(file: string, args: readonly string[], options: SpawnOptions): SpawnedProcess {
  const output = options.quiet ? 'ignore' : 'pipe';
  const stdio = [options.stdin ? 'pipe' : 'ignore', output, output, ...(options.pipe ? ['pipe'] : options.inheritFds ?? [])];
  const identity = {...(options.uid === undefined ? {} : {uid: options.uid}), ...(options.gid === undefined ? {} : {gid: options.gid})};
  let subprocess: ChildProcess;
  if (options.anyProgram) {
    if (!execa) throw new Error('Internal error: spawn of a program before prepareExec()');
    const running = execa(file, [...args], {
      ...(options.cwd === undefined ? {} : {cwd: options.cwd}),
      ...(options.env === undefined ? {} : {env: options.env}),
      ...identity,
      extendEnv: false,
      // Integer fds are inherited as they are (execa passes them to child_process; its types only miss that form).
      stdio: stdio as unknown as ['ignore', 'pipe', 'pipe'],
      buffer: false,
      reject: false,
      cleanup: false,
      detached: options.detached === true,
      windowsHide: true,
    });
    running.catch(() => undefined);
    subprocess = running;
  } else {
    subprocess = spawnProcess(file, args, {
      ...(options.cwd === undefined ? {} : {cwd: options.cwd}),
      ...(options.env === undefined ? {} : {env: options.env}),
      stdio: stdio as ('ignore' | 'pipe' | number)[],
      detached: options.detached === true,
      ...identity,
    });
  }
  const spawnErrors: ((error: Error) => void)[] = [];
  const pid = subprocess.pid;
  const exited = new Promise<ExitStatus>((resolve) => {
    subprocess.once('exit', (code, signal) => resolve({code, signal}));
    // A program that cannot be executed at all (ENOENT, EACCES, EPERM) never exits: report it as the shell would.
    subprocess.once('error', (error) => {
      spawnErrors.forEach((l) => l(error));
      resolve({code: 127, signal: null});
    });
  });
  subprocess.stdin?.on('error', () => undefined);
  return {
    pid: pid ?? -1,
    exited: pid === undefined ? Promise.resolve({code: 127, signal: null}) : exited,
    stdout: subprocess.stdout,
    stderr: subprocess.stderr,
    stdin: subprocess.stdin,
    pipe: options.pipe ? ((subprocess.stdio[3] as Duplex | undefined) ?? null) : null,
    onSpawnError: (listener) => void spawnErrors.push(listener),
  };
}
