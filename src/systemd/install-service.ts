/**
 * `kaiser install-service [--print] [--user] [--name N] [--vassals DIR] [--force]`: kaiser's `pm2 startup`. Writes a
 * systemd unit (unit-file.ts) whose ExecStart is the absolute path of the running kaiser (this node binary and this
 * installation's bin/kaiser.js), so it works wherever `npm install -g` put kaiser, then prints the commands that
 * enable it. `--print` writes the unit to stdout instead. It never runs systemctl itself: the operator decides when
 * the emperor starts. Returns the exit code (only cli.ts exits): 0 written or printed, 1 the file cannot be
 * written (or exists and differs, without --force), 2 usage error.
 */
import {existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync} from 'node:fs';
import {homedir} from 'node:os';
import {dirname, isAbsolute, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {EXIT} from '../exit-codes.js';
import {renderUnit} from './unit-file.js';

/** `kaiser help install-service`. */
export const INSTALL_SERVICE_USAGE = `kaiser install-service [--print] [--user] [--name NAME] [--vassals DIR]
                      [--force]
  write a systemd unit that runs this kaiser (its node and its bin/kaiser.js,
  by absolute path) as an emperor: Type=notify with NotifyAccess=main,
  Delegate=yes (so cgroup memory-limit and cpu-limit work under it), a
  watchdog, KillMode=mixed; then print the systemctl commands that enable it.
  --print          write the unit to stdout instead of a file
  --user           a user unit (~/.config/systemd/user, for systemctl --user;
                   vassals in ~/.config/kaiser/vassals)
  --name NAME      the unit name (default kaiser); the control socket is
                   /run/kaiser/NAME.sock unless NAME is kaiser
  --vassals DIR    the vassal directory, or a glob such as 'DIR/*.ini'
                   (default /etc/kaiser/vassals)
  --force          replace an existing unit file that differs
exit codes:
  0  written or printed
  1  the unit file cannot be written, or exists and differs (use --force)
  2  usage error`;

/** Where the command runs; cli.ts passes the real process. */
export interface InstallServiceEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: {write(text: string): unknown};
  readonly stderr: {write(text: string): unknown};
  /** The node binary and kaiser's launcher; default: this process and this installation. */
  readonly node?: string;
  readonly script?: string;
  /** Root of the filesystem the unit is written under (tests); default `/`. */
  readonly root?: string;
  readonly uid?: number;
  readonly version: string;
}

interface InstallArgs {
  print: boolean;
  user: boolean;
  force: boolean;
  name: string;
  vassals: string | undefined;
}

/** This installation's `bin/kaiser.js`, with symlinks resolved (npm links it into a bin directory). */
export function kaiserScript(): string {
  const script = fileURLToPath(new URL('../../bin/kaiser.js', import.meta.url));
  try {
    return realpathSync(script);
  } catch {
    return script;
  }
}

/** Runs the command; resolves with the exit code. Never rejects. */
export async function runInstallService(args: readonly string[], io: InstallServiceEnv): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    if (parsed === 'help') {
      io.stdout.write(`usage: ${INSTALL_SERVICE_USAGE}\n`);
      return EXIT.OK;
    }
    io.stderr.write(`kaiser install-service: ${parsed}\nusage: ${INSTALL_SERVICE_USAGE}\n`);
    return EXIT.USAGE;
  }
  const home = io.env['HOME'] ?? homedir();
  const vassals = resolve(parsed.vassals ?? (parsed.user ? join(home, '.config/kaiser/vassals') : '/etc/kaiser/vassals'));
  const control = parsed.user ? '%t/kaiser/control.sock' : parsed.name === 'kaiser' ? '/run/kaiser/control.sock' : `/run/kaiser/${parsed.name}.sock`;
  const node = io.node ?? process.execPath;
  const script = io.script ?? kaiserScript();
  const unit = renderUnit({
    command: [node, script],
    vassals,
    control,
    user: parsed.user,
    name: parsed.name,
    origin: `kaiser emperor, written by \`kaiser install-service\` (kaiser ${io.version}): governs the vassal files in ${vassals}.`,
  });
  if (parsed.print) {
    io.stdout.write(unit);
    return EXIT.OK;
  }
  const root = io.root ?? '/';
  const dir = parsed.user ? join(root, home, '.config/systemd/user') : join(root, 'etc/systemd/system');
  const file = join(dir, `${parsed.name}.service`);
  try {
    if (existsSync(file) && readFileSync(file, 'utf8') !== unit && !parsed.force) {
      io.stderr.write(`kaiser install-service: ${file} exists and differs: compare with --print, then use --force to replace it\n`);
      return EXIT.FAILURE;
    }
    mkdirSync(dir, {recursive: true});
    writeFileSync(file, unit, {mode: 0o644});
    const vassalDir = vassals.includes('*') ? dirname(vassals) : vassals;
    if (!existsSync(join(root, vassalDir))) mkdirSync(join(root, vassalDir), {recursive: true});
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const hint = code === 'EACCES' || code === 'EPERM' ? (parsed.user ? '' : ': run it as root, or use --user') : '';
    io.stderr.write(`kaiser install-service: cannot write ${file}: ${code}${hint}\n`);
    return EXIT.FAILURE;
  }
  const systemctl = parsed.user ? 'systemctl --user' : 'systemctl';
  io.stdout.write(
    [
      `wrote ${file}`,
      `  ExecStart runs ${node} ${script}`,
      `  vassals: ${vassals}; control socket: ${parsed.user ? '$XDG_RUNTIME_DIR/kaiser/control.sock' : control}`,
      'enable and start it with:',
      `  ${systemctl} daemon-reload && ${systemctl} enable --now ${parsed.name}`,
      ...(parsed.user ? ['  loginctl enable-linger "$USER"    # to keep it running when you log out'] : []),
      '',
    ].join('\n'),
  );
  return EXIT.OK;
}

const NAME = /^[A-Za-z0-9:_.-]+$/;

function parseArgs(args: readonly string[]): InstallArgs | string {
  const parsed: InstallArgs = {print: false, user: false, force: false, name: 'kaiser', vassals: undefined};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    const value = () => (eq !== -1 && arg.startsWith('--') ? arg.slice(eq + 1) : args[++i]);
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--print':
        parsed.print = true;
        break;
      case '--user':
        parsed.user = true;
        break;
      case '--force':
        parsed.force = true;
        break;
      case '--name': {
        const name = value();
        if (name === undefined || !NAME.test(name) || name.endsWith('.service')) return `--name needs a unit name without ".service" (letters, digits, ":_.-"), got ${JSON.stringify(name ?? '')}`;
        parsed.name = name;
        break;
      }
      case '--vassals': {
        const dir = value();
        if (dir === undefined || dir === '') return '--vassals needs a directory';
        parsed.vassals = dir;
        break;
      }
      default:
        return `unknown option ${JSON.stringify(arg)}`;
    }
  }
  if (parsed.vassals !== undefined && !isAbsolute(parsed.vassals) && parsed.vassals.startsWith('~')) return '--vassals: give an absolute path (the shell did not expand "~")';
  return parsed;
}
