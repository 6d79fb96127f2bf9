/**
 * The systemd unit that runs an emperor: one renderer for what `kaiser install-service` writes and for the units
 * shipped in `systemd/` (a test keeps those equal to its output), so every unit gets the same settings:
 *
 * - `Type=notify` with `NotifyAccess=main`: only the emperor may say READY=1, STOPPING=1 or WATCHDOG=1, never a
 *   vassal (the notify helper sends with the emperor's pid; see notify.ts). A `--user` unit says
 *   `NotifyAccess=all`, because an unprivileged helper cannot send with another pid (and every process of a user
 *   unit is that user's anyway).
 * - `Delegate=yes` and no `ProtectControlGroups`: the emperor gets its cgroup subtree, so `memory-limit` and
 *   `cpu-limit` are cgroup limits (a read-only /sys/fs/cgroup would make them fall back to sampling, and cpu-limit
 *   would not be enforced at all).
 * - `KillMode=mixed` and a stop timeout above the emperor's `--reload-mercy`, so the emperor stops its vassals.
 */

/** What a unit is made of. */
export interface UnitSpec {
  /** The command that runs kaiser: absolute paths (`/usr/bin/node /usr/lib/…/bin/kaiser.js`, or `/usr/bin/kaiser`). */
  readonly command: readonly string[];
  /** The vassal directory (or glob), as systemd should read it (`%i` allowed in templates). */
  readonly vassals: string;
  /** The control socket path. */
  readonly control: string;
  /** A user unit (`systemctl --user`): no hardening that needs privileges, NotifyAccess=all, default.target. */
  readonly user?: boolean;
  /** A template (`kaiser@.service`): several instances share /run/kaiser. */
  readonly template?: boolean;
  /** The unit name without `.service`, for comments and the syslog identifier. */
  readonly name: string;
  /** First comment line: where the unit comes from. */
  readonly origin: string;
}

/**
 * One word of ExecStart as systemd reads it: `%` and `$` escaped (specifiers and variables), quoted when it has
 * spaces, quotes or backslashes. A `%i` the caller means as a specifier is passed in `keepSpecifiers`.
 */
export function execWord(word: string, keepSpecifiers = false): string {
  let escaped = word.replace(/\$/g, '$$$$');
  if (!keepSpecifiers) escaped = escaped.replace(/%/g, '%%');
  if (!/[\s"'\\;]/.test(escaped) && escaped !== '') return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The unit file text. */
export function renderUnit(spec: UnitSpec): string {
  const {user = false, template = false} = spec;
  const instance = template ? ' %i' : '';
  const edit = template ? `systemctl edit ${spec.name}@NAME` : `systemctl ${user ? '--user ' : ''}edit ${spec.name}`;
  // `%i` (templates) and `%t` (user units: $XDG_RUNTIME_DIR) are meant as specifiers; anything else is literal.
  const exec = [...spec.command.map((word) => execWord(word)), '--emperor', execWord(spec.vassals, template), '--control', execWord(spec.control, template || user)];
  const lines = [
    `# ${spec.origin}`,
    `# Override settings with \`${edit}\`, not by editing this file.`,
    '[Unit]',
    `Description=kaiser emperor${instance} (vassals in ${spec.vassals})`,
    ...(user ? [] : ['After=network-online.target', 'Wants=network-online.target']),
    '',
    '[Service]',
    '# kaiser sends READY=1 (first scan done), STATUS=, RELOADING=1, STOPPING=1 and WATCHDOG=1 over $NOTIFY_SOCKET.',
    'Type=notify',
    ...(user
      ? [
          '# The datagrams come from a small python3 helper of the emperor (Node cannot send unix datagrams); without',
          "# privileges it cannot send them with the emperor's pid, so any process of this user unit may notify.",
          'NotifyAccess=all',
        ]
      : [
          "# The datagrams come from a small python3 helper of the emperor, sent with the emperor's pid (root may), so",
          '# only the main process counts: no vassal can report the emperor ready, stopping or alive.',
          'NotifyAccess=main',
        ]),
    `ExecStart=${exec.join(' ')}`,
    '# SIGHUP reloads every vassal, as it does for the uWSGI emperor.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '# The emperor sends WATCHDOG=1 every 15 s while its event loop is healthy; a hung emperor is restarted.',
    'WatchdogSec=30',
    '# SIGTERM goes to the emperor only; it stops every vassal gracefully (stop byte, curse tolerance, reload-mercy).',
    '# Whatever is still alive when the emperor is gone, or at TimeoutStopSec, gets SIGKILL.',
    'KillMode=mixed',
    "# uWSGI's unit uses SIGQUIT; kaiser treats SIGTERM, SIGINT and SIGQUIT alike (graceful shutdown, exit 0).",
    'KillSignal=SIGTERM',
    "# Longer than the emperor's --reload-mercy (30 s by default) so the emperor, not systemd, decides who gets SIGKILL.",
    '# Raise both together.',
    'TimeoutStopSec=45',
    'Restart=on-failure',
    'RestartSec=1s',
    ...(user
      ? ['# $XDG_RUNTIME_DIR/kaiser: the control socket, where `kaiser ls` looks for it by default.', 'RuntimeDirectory=kaiser']
      : template
        ? ['# /run/kaiser is shared by every instance: keep it when one instance stops, or the others would lose their sockets.', 'RuntimeDirectory=kaiser', 'RuntimeDirectoryPreserve=yes']
        : [
            '# /run/kaiser (mode 0755, owned by the service user): the control socket. Put vassal UNIX sockets here too (for',
            '# example /run/kaiser/shop.sock): /tmp is private to the unit (PrivateTmp below).',
            'RuntimeDirectory=kaiser',
          ]),
    ...(user
      ? []
      : [
          '# /var/lib/kaiser (0700; systemd passes it as $STATE_DIRECTORY): what outlives the emperor, such as the front',
          "# router's domain claims under --emperor-tyrant (one file per vassal directory, so instances can share it).",
          'StateDirectory=kaiser',
          'StateDirectoryMode=0700',
        ]),
    '# journald timestamps every line itself; systemd sets JOURNAL_STREAM and kaiser then omits its own timestamps.',
    `SyslogIdentifier=${template ? `${spec.name}-%i` : spec.name}`,
    '# The emperor puts each vassal with memory-limit or cpu-limit in a cgroup of its own below the unit: Delegate=yes',
    '# hands it the subtree (cgroup v2: the memory, cpu and pids controllers), so the limits are enforced by the kernel.',
    'Delegate=yes',
    '',
    '# Hardening that keeps spawning vassals and cgroup limits working. Each one applies to the vassals too.',
    ...(user
      ? ['# A user unit runs with the user\'s own rights; system-wide hardening needs a system unit (kaiser install-service).']
      : [
          '# Blocks gaining privileges through setuid/setgid binaries and file capabilities at exec. Dropping privileges',
          '# (vassal uid/gid while the emperor runs as root) still works. Breaks vassals that exec sudo, su or ping-with-setuid.',
          'NoNewPrivileges=yes',
          '# /usr, /boot, /efi and /etc are read-only: vassal files are only read. Apps that write under /etc or /usr break.',
          'ProtectSystem=full',
          '# A private /tmp and /var/tmp. A UNIX socket a vassal creates in /tmp is invisible to nginx outside: use /run/kaiser.',
          'PrivateTmp=yes',
          '# /proc/sys, /sys and friends read-only: apps do not tune the kernel. (/sys/fs/cgroup stays writable below.)',
          'ProtectKernelTunables=yes',
          '# Nobody in the unit can create setuid/setgid files.',
          'RestrictSUIDSGID=yes',
        ]),
    '# Every vassal\'s sockets and files count against the limit of its own process; 65536 suits busy app servers.',
    'LimitNOFILE=65536',
    ...(user
      ? []
      : [
          '# A reload\'s new workers load the app at a lower priority and return to the vassal\'s before they accept',
          '# (load-nice); a vassal running as its own user may return only as far as RLIMIT_NICE allows: +0 is nice 0,',
          '# the priority it started with, never above it. (A user unit cannot raise the limit: its vassals load at full',
          '# priority.)',
          'LimitNICE=+0',
        ]),
    '# Deliberately not set: ProtectControlGroups (read-only /sys/fs/cgroup: no per-vassal limits), ProtectHome (apps',
    '# often live in /home), PrivateDevices (apps may need /dev devices), MemoryDenyWriteExecute (breaks the JITs of',
    '# Node and PyPy), ProtectSystem=strict (apps write logs and uploads anywhere), PrivateUsers and DynamicUser',
    '# (vassals may switch to their own users).',
    '',
    '[Install]',
    `WantedBy=${user ? 'default.target' : 'multi-user.target'}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The units shipped in `systemd/` (for distribution packages that install kaiser as /usr/bin/kaiser). */
export function shippedUnits(): Record<'kaiser.service' | 'kaiser@.service', string> {
  const origin = 'Install: `kaiser install-service` writes this unit with the path of your kaiser; see systemd/README.md.';
  return {
    'kaiser.service': renderUnit({
      command: ['/usr/bin/kaiser'],
      vassals: '/etc/kaiser/vassals',
      control: '/run/kaiser/control.sock',
      name: 'kaiser',
      origin: `kaiser emperor: governs every vassal file in /etc/kaiser/vassals.\n# ${origin}`,
    }),
    'kaiser@.service': renderUnit({
      command: ['/usr/bin/kaiser'],
      vassals: '/etc/kaiser/%i/vassals',
      control: '/run/kaiser/%i.sock',
      template: true,
      name: 'kaiser',
      origin: `One kaiser emperor per instance: kaiser@shop.service governs /etc/kaiser/shop/vassals.\n# ${origin}`,
    }),
  };
}
