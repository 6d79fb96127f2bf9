/**
 * Entry point of kaiser's Node worker (`node dist/workers/node/worker.js`), exec'd by the Python master with
 * the contract of docs/runtime-protocol.md §3:
 *
 *   env KAISER_WORKER_ID, KAISER_LISTEN_FDS ("3:http,…"), KAISER_STATUS_FD, KAISER_LIFE_FD,
 *       KAISER_SCOREBOARD_FD + KAISER_SCOREBOARD_OFFSET, KAISER_CONFIG (JSON, option names of src/options.ts)
 *
 * Sequence: parse the contract → watch the life pipe → refuse non-http sockets → chdir, env → import the app
 * → `{"act":"loaded"}` → listen on every fd → scoreboard accepting=1 → `{"act":"accepting"}`. Any failure
 * before accepting is `{"act":"load-failed","error":…}` and exit 22 (uWSGI need-app).
 *
 * Signals: SIGHUP graceful (stop accepting, finish in-flight, exit 0); SIGTERM/SIGINT exit 0 at once;
 * life-pipe EOF logs uWSGI's "UAAAAAAH my master disconnected: i will kill myself !!!" and exits 1 at once.
 * Exceptions escaping a request (timer callbacks, unhandled rejections) are logged and counted, and the
 * worker keeps serving its other requests.
 */
import {fstatSync} from 'node:fs';
import {EXIT} from '../../exit-codes.js';
import {setProcessTitle} from '../../util/process-title.js';
import {createRequestListener} from './dispatch.js';
import {HttpFrontend} from './http-frontend.js';
import {watchLifePipe} from './life-pipe.js';
import {AppLoadError, loadHandler} from './load-handler.js';
import {Scoreboard} from './scoreboard.js';
import {readFdVar, readWorkerSettings, type WorkerSettings} from './settings.js';
import {StatusPipe} from './status-pipe.js';
import {WorkerLog, describeError} from './worker-log.js';

/** Error text of a uwsgi-protocol socket handed to a Node worker. */
export const UWSGI_UNSUPPORTED_MESSAGE = 'uwsgi protocol sockets are not supported for node apps';

const MASTER_GONE = 'UAAAAAAH my master disconnected: i will kill myself !!!';

let log = new WorkerLog(false);
let status = new StatusPipe(undefined);

/** Reports a startup failure to the master and exits 22. */
function loadFailed(message: string): never {
  log.error(message);
  status.send({act: 'load-failed', error: message});
  log.flush();
  process.exit(EXIT.APP_LOAD_FAILED);
}

function exitNow(code: number): never {
  log.flush();
  process.exit(code);
}

async function main(): Promise<void> {
  let statusFd: number | undefined;
  try {
    statusFd = readFdVar(process.env, 'KAISER_STATUS_FD');
  } catch (err) {
    loadFailed((err as Error).message);
  }
  status = new StatusPipe(statusFd);

  let settings: WorkerSettings;
  try {
    settings = readWorkerSettings(process.env);
  } catch (err) {
    loadFailed((err as Error).message);
  }
  const {config} = settings;
  // As the Python workers do (procname.py): `kaiser worker 2 shop.ini` in ps, `kaiser worker 2` in comm.
  setProcessTitle(`kaiser worker ${settings.workerId}${config.name === '' ? '' : ` ${config.name}`}`);
  log = new WorkerLog(!config.disableLogging);

  if (settings.lifeFd !== undefined) {
    watchLifePipe(settings.lifeFd, () => {
      log.info(MASTER_GONE);
      exitNow(EXIT.FAILURE);
    });
  }

  const scoreboard = new Scoreboard(settings.scoreboardFd, settings.scoreboardOffset, config.threads, (err) =>
    log.error(`cannot write the scoreboard (fd ${settings.scoreboardFd}, offset ${settings.scoreboardOffset}): ${err.message}; scoreboard updates disabled`),
  );
  scoreboard.reset();

  let frontend: HttpFrontend | undefined;
  let stopping = false;
  process.on('SIGTERM', () => exitNow(EXIT.OK));
  process.on('SIGINT', () => exitNow(EXIT.OK));
  process.on('SIGHUP', () => {
    if (stopping) return;
    stopping = true;
    if (frontend === undefined) exitNow(EXIT.OK); // nothing accepted yet, nothing to finish
    scoreboard.setAccepting(false);
    log.info(`gracefully stopping worker ${settings.workerId} (pid: ${process.pid}), ${frontend.inFlightCount} request(s) in flight`);
    void frontend.stopGracefully().then(() => {
      log.info(`worker ${settings.workerId} (pid: ${process.pid}) finished its requests, goodbye`);
      exitNow(EXIT.OK);
    });
  });

  // Sockets first: a misconfigured vassal fails fast, before the app's import side effects.
  const uwsgi = settings.listenFds.filter((l) => l.proto === 'uwsgi');
  if (uwsgi.length > 0) {
    loadFailed(`${UWSGI_UNSUPPORTED_MESSAGE} (fd ${uwsgi.map((l) => l.fd).join(', ')}): use http-socket for a node-app vassal`);
  }
  const other = settings.listenFds.filter((l) => l.proto !== 'http');
  if (other.length > 0) loadFailed(`unsupported socket protocol ${other.map((l) => `${l.fd}:${l.proto}`).join(', ')} (node apps serve http only)`);
  if (settings.listenFds.length === 0) loadFailed('no listening socket: KAISER_LISTEN_FDS is empty');
  for (const {fd} of settings.listenFds) {
    let isSocket = false;
    try {
      isSocket = fstatSync(fd).isSocket();
    } catch (err) {
      loadFailed(`KAISER_LISTEN_FDS: fd ${fd} is not open (${(err as Error).message})`);
    }
    if (!isSocket) loadFailed(`KAISER_LISTEN_FDS: fd ${fd} is not a socket`);
  }

  if (config.chdir !== null) {
    try {
      process.chdir(config.chdir);
    } catch (err) {
      loadFailed(`chdir(${config.chdir}): ${(err as Error).message}`);
    }
  }
  for (const [key, value] of Object.entries(config.env)) process.env[key] = value;
  if (config.nodeApp === null) loadFailed('no node-app given: nothing to load');

  const began = Date.now();
  let app;
  try {
    app = await loadHandler(config.nodeApp);
  } catch (err) {
    loadFailed(err instanceof AppLoadError ? err.message : `node-app ${config.nodeApp}: ${describeError(err)}`);
  }
  log.info(
    `node app 0 (mountpoint='') ready in ${Math.round((Date.now() - began) / 1000)} seconds pid: ${process.pid} (default app) ` +
      `[${app.kind === 'fetch' ? 'fetch' : '(req, res)'} handler from ${app.file}]`,
  );
  status.send({act: 'loaded'});

  process.on('uncaughtException', (err) => {
    scoreboard.countException();
    log.error(`[node app] uncaught exception (pid: ${process.pid}), the worker keeps serving:`, err);
  });
  process.on('unhandledRejection', (reason) => {
    scoreboard.countException();
    log.error(`[node app] unhandled promise rejection (pid: ${process.pid}), the worker keeps serving:`, reason);
  });

  frontend = new HttpFrontend(createRequestListener({app, scoreboard, log}), {
    socketTimeoutMs: config.socketTimeoutMs,
    bufferSize: config.bufferSize,
    backlog: config.backlog,
  });
  try {
    await frontend.listen(settings.listenFds.map((l) => l.fd));
  } catch (err) {
    loadFailed((err as Error).message);
  }
  if (stopping) return; // SIGHUP arrived while listening: the graceful stop is already under way
  scoreboard.setAccepting(true);
  status.send({act: 'accepting'});
}

main().catch((err: unknown) => loadFailed(`node worker crashed while starting: ${describeError(err)}`));
