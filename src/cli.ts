/**
 * argv → options → run the emperor, the app server or a control command. The only place that exits, and the only
 * place that builds the logger and installs signal handlers.
 *
 * Emperor signals: SIGHUP reloads every vassal; SIGINT, SIGTERM and SIGQUIT stop every vassal gracefully and exit 0;
 * SIGUSR1 logs one status line per vassal. Exit codes: src/exit-codes.ts (also in --help).
 */
import {accessSync, constants, readFileSync, statSync} from 'node:fs';
import {resolve} from 'node:path';
import {parseCommandLine, type EmperorMode} from './config/argv.js';
import {formatDiagnostic} from './config/diagnostic.js';
import {helpText} from './config/help.js';
import {Emperor} from './emperor/emperor.js';
import {EXIT} from './exit-codes.js';
import {createLogger, type LogFormat} from './log/logger.js';
import {runServer} from './server/launcher.js';

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
export function main(argv: string[]): void {
  const parsed = parseCommandLine(argv);
  if (!parsed.ok) {
    for (const d of parsed.error) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stderr.write('kaiser: see kaiser --help\n');
    process.exit(EXIT.USAGE);
  }
  const mode = parsed.value;
  switch (mode.mode) {
    case 'help':
      process.stdout.write(helpText(VERSION));
      return process.exit(EXIT.OK);
    case 'version':
      process.stdout.write(`kaiser ${VERSION}\n`);
      return process.exit(EXIT.OK);
    case 'emperor':
      return void runEmperor(mode);
    case 'server': {
      const log = createLogger({format: logFormatOf(mode.serverConfig['log-format'])});
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
      return fail(`"${mode.name}" needs the control socket, which this version does not have yet`);
    default: {
      const never: never = mode;
      return fail(`Internal error: unknown mode ${JSON.stringify(never)}`, EXIT.FAILURE);
    }
  }
}

function logFormatOf(value: unknown): LogFormat {
  return value === 'json' ? 'json' : 'human';
}

async function runEmperor(mode: EmperorMode): Promise<void> {
  const options = mode.options;
  const dirs = options.emperor;
  if (dirs.length !== 1) fail('exactly one --emperor directory is supported');
  const dir = resolve(dirs[0]!);
  try {
    if (!statSync(dir).isDirectory()) fail(`--emperor ${dir}: not a directory`);
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (error) {
    fail(`--emperor ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : `cannot read (${(error as NodeJS.ErrnoException).code})`}`);
  }
  const log = createLogger({format: logFormatOf(options.logFormat)});
  const emperor = new Emperor({
    dir,
    statsAddress: options.emperorStats,
    reloadMercyMs: options.reloadMercySeconds * 1000,
    rescanMs: options.emperorFreqSeconds * 1000,
    accountingMs: options.accountingSeconds * 1000,
    spawnConcurrency: options.spawnConcurrency,
    python: options.python,
    curseToleranceMs: options.curseToleranceSeconds * 1000,
    log,
    version: `kaiser-${VERSION}`,
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('already stopping', {uwsgi: '[emperor] RAGNAROK ALREADY EVOKED', signal});
      return;
    }
    stopping = true;
    void emperor.shutdown().then(() => process.exit(EXIT.OK));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGQUIT', () => stop('SIGQUIT'));
  process.on('SIGHUP', () => emperor.reloadAll());
  process.on('SIGUSR1', () => emperor.logStatus());
  process.on('SIGPIPE', () => undefined);
  try {
    await emperor.start();
  } catch (error) {
    log.error('cannot start the emperor', {error: String(error)});
    await emperor.shutdown();
    process.exit(EXIT.FAILURE);
  }
}
