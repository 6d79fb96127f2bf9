/**
 * argv → options → run the emperor, the app server or a control command. The only place that exits, and the only
 * place that builds the logger and installs signal handlers.
 *
 * Emperor signals: SIGHUP reloads every vassal; SIGINT, SIGTERM and SIGQUIT stop every vassal gracefully and exit 0;
 * SIGUSR1 logs one status line per vassal. Exit codes: src/exit-codes.ts (also in --help). An error that escapes
 * every boundary of the emperor is logged, not fatal (`containLastResort`).
 */
import {accessSync, constants, readFileSync, statSync} from 'node:fs';
import {parseVassalSource} from './emperor/monitor.js';
import {join, resolve} from 'node:path';
import {parseCommandLine, type CommandLineMode, type EmperorMode} from './config/argv.js';
import {formatDiagnostic, type Diagnostic} from './config/diagnostic.js';
import {DEFAULT_HELP_WIDTH, helpText} from './config/help.js';
import {DirectorySource} from './emperor/directory-source.js';
import {Containment, faultPlanFrom} from './emperor/containment.js';
import {Emperor} from './emperor/emperor.js';
import {realSystem} from './system/real-system.js';
import {EXIT} from './exit-codes.js';
import {createLogger, type LogFormat, type Logger} from './log/logger.js';
import {runServer} from './server/launcher.js';
import type {EmperorMetrics} from './metrics/metrics.js';
import type {MetricsServer} from './metrics/server.js';
import type {Dashboard} from './dashboard/server.js';
import {TransitionFeed} from './dashboard/event-stream.js';
import {Notifier} from './systemd/notify.js';
import {setProcessTitle} from './util/process-title.js';
import {ok, type Result} from './result.js';
import type {FrontDoor} from './router/front-door.js';
import {checkFrontDoorOptions, wantsFrontDoor} from './router/front-door-options.js';
import {resolveStateDir} from './emperor/state-dir.js';
import {runControlCommand} from './control/commands.js';
import {resolveControlPath} from './control/control-path.js';
import {emperorControl} from './control/emperor-control.js';
import {VassalLogBook} from './control/log-book.js';
import {startControlServer, type ControlServer} from './control/server.js';
import {nssUserDb} from './emperor/identity.js';
import {parsePrivilegedPorts, unprivilegedPortStart} from './emperor/privileged-ports.js';
import {isFleetUrl} from './fleet/fleet-url.js'; // fleet mode (the etcd client itself is loaded only when used)

/** The package version, from package.json. */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version?: string};
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

function fail(message: string, code: number = EXIT.USAGE): never {
  process.stderr.write(`kaiser: ${message}\n`);
  process.exit(code);
}

/** Entry point of bin/kaiser.js. */
/** Runs kaiser with `argv` (already parsed by the launcher, or parsed here). */
export function main(argv: string[], parsed: Result<CommandLineMode, Diagnostic[]> = parseCommandLine(argv)): void {
  if (!parsed.ok) {
    for (const d of parsed.error) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stderr.write('kaiser: see kaiser --help\n');
    process.exit(EXIT.USAGE);
  }
  const mode = parsed.value;
  switch (mode.mode) {
    case 'help':
      // `kaiser help reload` is `kaiser reload --help`.
      if (mode.command !== undefined) return main([mode.command, '--help']);
      process.stdout.write(helpText(VERSION, {width: process.stdout.isTTY ? process.stdout.columns : DEFAULT_HELP_WIDTH}));
      return process.exit(EXIT.OK);
    case 'version':
      process.stdout.write(`kaiser ${VERSION}\n`);
      return process.exit(EXIT.OK);
    case 'emperor':
      return void runEmperor(mode);
    case 'server': {
      const name = mode.serverConfig['_name'];
      setProcessTitle(`kaiser server${typeof name === 'string' && name !== 'kaiser' ? ` ${name}` : ''}`, 'kaiser');
      const log = createLogger({format: logFormatOf(mode.serverConfig['log-format'])});
      for (const d of mode.warnings) log.warn(formatDiagnostic(d));
      void runServer({
        python: mode.python,
        serverConfig: mode.serverConfig as Record<string, unknown>,
        logto: mode.logto,
        log,
        reread: () => {
          const again = parseCommandLine(argv);
          if (again.ok && again.value.mode === 'server') return again.value.serverConfig as Record<string, unknown>;
          if (!again.ok) for (const d of again.error) log.error(formatDiagnostic(d));
          return undefined;
        },
      }).then((code) => process.exit(code));
      return;
    }
    case 'subcommand':
      if (mode.name === 'install-service') {
        void import('./systemd/install-service.js')
          .then(({runInstallService}) => runInstallService(mode.args, {env: process.env, stdout: process.stdout, stderr: process.stderr, version: VERSION}))
          .then((code) => process.exit(code));
        return;
      }
      // fleet mode: `kaiser fleet …` talks to etcd, not to an emperor.
      if (mode.name === 'fleet') {
        void import('./fleet/commands.js')
          .then(({runFleetCommand}) => runFleetCommand(mode.args, {env: process.env, stdout: process.stdout, stderr: process.stderr}))
          .then((code) => process.exit(code));
        return;
      }
      void runControlCommand(mode.name, mode.args, {env: process.env, stdout: process.stdout, stderr: process.stderr}).then((code) =>
        process.exit(code),
      );
      return;
    default: {
      const never: never = mode;
      return fail(`Internal error: unknown mode ${JSON.stringify(never)}`, EXIT.FAILURE);
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The last resort of containment (emperor/containment.ts): a throw or rejection that escaped every boundary is
 * logged as KAISER_INTERNAL_ERROR and the emperor carries on, because exiting would take every vassal down with it
 * (the reaper kills them all). Node's default, printing the error and exiting, is what this replaces.
 */
function containLastResort(log: Logger, containment: Containment): void {
  process.on('uncaughtException', (error) => void containment.report({component: 'process', step: 'uncaught exception'}, error));
  process.on('unhandledRejection', (reason) => void containment.report({component: 'process', step: 'unhandled rejection'}, reason));
  log.debug('last-resort containment installed');
}

function logFormatOf(value: unknown): LogFormat {
  return value === 'json' ? 'json' : 'human';
}

async function runEmperor(mode: EmperorMode): Promise<void> {
  const options = mode.options;
  // fleet mode: `--emperor etcd://…` values (and `--etcd`) are fleets; at most one directory besides them.
  const dirs = options.emperor.filter((value) => !isFleetUrl(value));
  if (dirs.length > 1) fail('exactly one --emperor directory is supported (plus any number of etcd:// fleets)');
  const source = dirs[0] === undefined ? undefined : parseVassalSource(resolve(dirs[0]), isDirectory);
  if (source !== undefined && 'error' in source) fail(`--emperor ${source.error}`);
  const dir = source?.dir;
  const pattern = source?.pattern;
  try {
    if (dir !== undefined) accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (error) {
    fail(`--emperor ${dir}: cannot read (${(error as NodeJS.ErrnoException).code})`);
  }
  // `ps` shows `kaiser emperor /etc/kaiser/vassals`; `pidof kaiser` finds the emperor (and no vassal).
  setProcessTitle(`kaiser emperor ${dirs[0] === undefined ? options.emperor.join(' ') : resolve(dirs[0])}`, 'kaiser');
  const log = createLogger({format: logFormatOf(options.logFormat)});
  for (const d of mode.warnings) log.warn(formatDiagnostic(d));
  // The etcd client (gRPC) costs the emperor ~25 MB of RSS: loaded only for fleets.
  const wantsFleet = dirs.length < options.emperor.length || options.etcd !== undefined;
  const fleetsResult = wantsFleet
    ? (await import('./fleet/fleets-from-options.js')).fleetsFromOptions(options, {env: process.env, cwd: process.cwd(), log})
    : ok([]);
  if (!fleetsResult.ok) fail(fleetsResult.error);
  const fleets = fleetsResult.value;
  if (dir === undefined && fleets.length === 0) fail('give --emperor DIR or --emperor etcd://HOST:PORT/PREFIX');
  const frontDoorChecked = checkFrontDoorOptions(options);
  if (!frontDoorChecked.ok) fail(frontDoorChecked.error);
  const privilegedPorts = parsePrivilegedPorts(options.emperorPrivilegedPorts, nssUserDb(), unprivilegedPortStart());
  if (!privilegedPorts.ok) fail(privilegedPorts.error);
  const notifier = Notifier.fromEnvironment({log, ...(options.python ? {python: options.python} : {})});
  const book = new VassalLogBook();
  // The front door (router processes, subscription server, ACME); its router processes get new pools after any
  // vassal change.
  let frontDoor: FrontDoor | undefined;
  let control: ControlServer | undefined;
  let metrics: EmperorMetrics | undefined;
  let metricsServer: MetricsServer | undefined;
  let dashboard: Dashboard | undefined;
  const transitions = new TransitionFeed();
  const system = realSystem();
  // One set of boundaries for the emperor and its directory source (KAISER_TEST_FAULTS: the end-to-end test's faults).
  const containment = new Containment(log.child({component: 'emperor'}), () => system.now(), faultPlanFrom(process.env['KAISER_TEST_FAULTS']));
  containLastResort(log, containment);
  // The vassal directory is one source of definitions; fleets (started below) are others.
  const sources = dir === undefined ? [] : [
    new DirectorySource({
      dir,
      ...(pattern === undefined ? {} : {pattern}),
      sys: system,
      log: log.child({component: 'emperor'}),
      rescanMs: options.emperorFreqSeconds * 1000,
      onScan: (seconds) => metrics?.observeScan(seconds),
      tyrant: options.emperorTyrant,
      containment,
    }),
  ];
  const emperor = new Emperor({
    dir,
    sources,
    system,
    containment,
    statsAddress: options.emperorStats,
    reloadMercyMs: options.reloadMercySeconds * 1000,
    accountingMs: options.accountingSeconds * 1000,
    spawnConcurrency: options.spawnConcurrency,
    python: options.python,
    curseToleranceMs: options.curseToleranceSeconds * 1000,
    zygote: options.zygote,
    tyrant: options.emperorTyrant,
    privilegedPorts: privilegedPorts.value,
    passEnv: options.emperorPassEnv,
    vassalsInclude: options.vassalsInclude.map((file) => resolve(file)),
    log,
    version: `kaiser-${VERSION}`,
    onVassalReady: (seconds) => metrics?.observeSpawn(seconds),
    onVassalOutput: (name, line) => book.append(name, line),
    onVassalRemoved: (name) => {
      frontDoor?.changed();
      book.forget(name);
      for (const fleet of fleets) fleet.onVassalRemoved(name);
    },
    // fleet mode: replica states go back into etcd. The dashboard's listener belongs here too.
    onVassalTransition: (transition) => {
      frontDoor?.changed();
      for (const fleet of fleets) fleet.onVassalTransition(transition);
      transitions.emit(transition);
    },
  });
  if (options.metrics) {
    // prom-client costs ~13 MB of emperor RSS: loaded only when metrics are asked for.
    const {EmperorMetrics} = await import('./metrics/metrics.js');
    const {metricsRowOf} = await import('./metrics/vassal-row.js');
    metrics = new EmperorMetrics({snapshots: () => emperor.snapshots().map(metricsRowOf), refresh: () => emperor.refreshAppStats()});
  }
  const publishStatus = () => {
    if (!notifier.isEnabled) return; // not under systemd: nothing to count
    const {total, ready, failing} = emperor.census();
    notifier.status(`The Emperor is governing ${total} vassals: ${ready} ready, ${failing} failing`);
  };
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('already stopping', {uwsgi: '[emperor] RAGNAROK ALREADY EVOKED', signal});
      return;
    }
    stopping = true;
    notifier.stopping();
    for (const fleet of fleets) fleet.pause();
    void Promise.all([control?.close(), dashboard?.close(), frontDoor?.stop()])
      .then(() => emperor.shutdown())
      // fleet mode: the lease goes only after our vassals stopped, so no replica ever runs twice.
      .then(() => Promise.all(fleets.map((fleet) => fleet.close())))
      .then(async () => {
      await metricsServer?.close();
      metrics?.close();
      await notifier.close();
      process.exit(EXIT.OK);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGQUIT', () => stop('SIGQUIT'));
  process.on('SIGHUP', () => {
    notifier.reloading();
    emperor.reloadAll();
    notifier.ready();
  });
  process.on('SIGUSR1', () => emperor.logStatus());
  process.on('SIGUSR2', () => {
    emperor.reopenLogs();
    frontDoor?.reopenLogs();
  });
  process.on('SIGPIPE', () => undefined);
  try {
    await emperor.start();
    for (const fleet of fleets) fleet.start(emperor);
    const controlPath = resolveControlPath(options.control);
    const governed = emperorControl(emperor, book, {
      version: `kaiser-${VERSION}`,
      dir: dir === undefined ? fleets.map((f) => f.source).join(' ') : pattern === undefined ? dir : join(dir, pattern),
      stateChanges: transitions.subscribe,
    });
    const started = await startControlServer(controlPath, governed, log);
    if (started.ok) {
      control = started.value;
    } else if (options.control !== undefined) {
      throw new Error(`cannot open the control socket: ${started.error}`);
    } else {
      log.warn('no control socket', {uwsgi: `control socket disabled: ${started.error} (use --control PATH)`});
    }
    if (options.dashboard !== undefined) {
      // Loaded only when asked for, like metrics.
      const {openEmperorDashboard} = await import('./dashboard/emperor-dashboard.js');
      const opened = await openEmperorDashboard({
        address: options.dashboard,
        tokenFile: options.dashboardTokenFile,
        control: governed,
        transitions: transitions.subscribe,
        log,
        definitionOf: (name) => emperor.definitionText(name),
      });
      if (!opened.ok) throw new Error(`cannot open the dashboard: ${opened.error}`);
      dashboard = opened.value;
    }
    if (wantsFrontDoor(options)) {
      // The router, TLS, ACME and subscription modules are loaded only here (~3.5 MB of the emperor's RSS).
      const [{startFrontDoor}, {claimsFilePath}] = await Promise.all([import('./router/front-door.js'), import('./router/domain-claims-file.js')]);
      const stateDir = resolveStateDir(options.emperorStateDir, options.emperorTyrant);
      const claimsKey = dir === undefined ? options.emperor.join(' ') : pattern === undefined ? dir : join(dir, pattern);
      const claims = stateDir === undefined ? undefined : {file: claimsFilePath(resolve(stateDir), claimsKey), governed: claimsKey};
      const started = await startFrontDoor(options, {emperor, python: options.python, logFormat: options.logFormat, log, ...(claims ? {claims} : {})});
      if (!started.ok) throw new Error(started.error);
      frontDoor = started.value;
    }
    if (metrics && options.metrics) {
      const {startMetricsServer} = await import('./metrics/server.js');
      metricsServer = await startMetricsServer(options.metrics, metrics);
      log.info('metrics server', {uwsgi: `*** Prometheus metrics on http://${metricsServer.address}/metrics ***`});
    }
  } catch (error) {
    log.error('cannot start the emperor', {error: String(error)});
    await emperor.shutdown();
    await notifier.close();
    process.exit(EXIT.FAILURE);
  }
  notifier.ready();
  publishStatus();
  setInterval(publishStatus, 10_000).unref();
  notifier.startWatchdog();
}
