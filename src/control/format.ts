/**
 * Text for operators: aligned tables, byte sizes in human units (`12.3M`), durations (`3d4h`, `5m02s`), and the
 * `kaiser ls` / `kaiser status` renderings built from them. Pure functions of their input.
 */
import type {EmperorStatus, VassalRow} from './protocol.js';

/** The columns of `kaiser ls`, in order. */
export const LS_COLUMNS = ['NAME', 'KIND', 'STATE', 'PID', 'CPU%', 'RSS', 'UPTIME', 'RESTARTS', 'SOCKETS', 'LAST-ERROR', 'WARNINGS'] as const;

/** Widest a LAST-ERROR cell may be in a table (the full text is in `--json`). */
const MAX_ERROR_CELL = 60;

/** `1536` → `1.5K`, `0` → `0`; powers of 1024 like `ps`/`top`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)}${units[unit]}`;
}

/** `59` → `59s`, `302` → `5m02s`, `7300` → `2h01m`, `93784` → `1d02h`; 0 or less → `-`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '-';
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** Left-aligned columns separated by two spaces; numbers are not special, so the table reads like `ps`. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/**
 * One line of a possibly multi-line message, shortened for a table cell: the last non-empty line, which in a Python
 * traceback is the one that says what went wrong (`SyntaxError: '(' was never closed`), marked `… ` when lines
 * before it were left out.
 */
export function shorten(text: string, max: number = MAX_ERROR_CELL): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const last = lines[lines.length - 1] ?? '';
  const flat = lines.length > 1 ? `… ${last}` : last;
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The `kaiser ls` table. */
export function formatVassalTable(rows: readonly VassalRow[]): string {
  if (rows.length === 0) return `${LS_COLUMNS.join('  ')}\n(no vassals)\n`;
  return formatTable(
    LS_COLUMNS,
    rows.map((row) => [
      row.name,
      row.kind,
      row.state,
      row.pid > 0 ? String(row.pid) : '-',
      row.pid > 0 ? row.cpu.toFixed(1) : '-',
      row.pid > 0 ? formatBytes(row.rss) : '-',
      formatDuration(row.uptime),
      String(row.restarts),
      row.sockets.length === 0 ? '-' : row.sockets.join(','),
      row.lastError ? shorten(row.lastError) : '-',
      warningCell(row.warnings),
    ]),
  );
}

/**
 * The WARNINGS cell: the first config warning without its file prefix and code (`procesess: unknown option …`),
 * and how many more there are; `kaiser ls --json` has them all.
 */
export function warningCell(warnings: readonly string[] | undefined): string {
  const [first] = warnings ?? [];
  if (first === undefined) return '-';
  const match = /^\S+(?: \[[^\]]*\])? (.*?): warning KAISER_\w+ (.*)$/.exec(first);
  const text = match === null ? first : `${match[1] ?? ''}: ${match[2] ?? ''}`;
  const more = (warnings?.length ?? 0) - 1;
  return more > 0 ? `${shorten(text, 70)} (+${more})` : shorten(text, 80);
}

/** The `kaiser status` block. */
export function formatStatus(status: EmperorStatus): string {
  return [
    `emperor   pid ${status.pid}, up ${formatDuration(status.uptime)}, rss ${formatBytes(status.rss)}, ${status.version}`,
    `directory ${status.dir}`,
    `vassals   ${status.vassals} (${status.ready} ready, ${status.failing} failing, ${status.held} stopped by an operator)`,
  ].join('\n') + '\n';
}
