/**
 * `--dashboard ADDR [--dashboard-token-file FILE]` in one call for cli.ts: reads the token book (TCP only), starts
 * the emperor probe, the history and the server, and closes them in order. cli.ts imports it lazily, so an emperor
 * without a dashboard loads none of this.
 */
import type {ControlLog, EmperorControl} from '../control/server.js';
import {err, ok, type Result} from '../result.js';
import {loadTokenBook, type TokenBook} from './auth.js';
import {startEmperorProbe} from './emperor-probe.js';
import type {TransitionSource} from './event-stream.js';
import {VassalHistory} from './history.js';
import {parseDashboardAddress} from './listen.js';
import {startDashboard, type Dashboard} from './server.js';

/** What cli.ts hands over. */
export interface EmperorDashboardOptions {
  /** `--dashboard`. */
  address: string;
  /** `--dashboard-token-file`. */
  tokenFile: string | undefined;
  control: EmperorControl;
  /** A `TransitionFeed`'s `subscribe`, fed by the emperor's `onVassalTransition`. */
  transitions: TransitionSource;
  log: ControlLog;
  /**
   * A vassal's definition as the emperor read it, to show it; undefined when unknown or unreadable. Never read again
   * from disk here: as root that would follow a tenant's symlink to a root-only file (issue 14).
   */
  definitionOf: (name: string) => string | undefined;
}

/** Starts the dashboard of a running emperor. */
export async function openEmperorDashboard(options: EmperorDashboardOptions): Promise<Result<Dashboard, string>> {
  const address = parseDashboardAddress(options.address);
  if (!address.ok) return address;
  let tokens: TokenBook | undefined;
  if (address.value.kind === 'tcp') {
    if (options.tokenFile === undefined) {
      return err(`--dashboard ${options.address}: a TCP dashboard needs --dashboard-token-file FILE (lines of name:token)`);
    }
    const loaded = await loadTokenBook(options.tokenFile);
    if (!loaded.ok) return err(`--dashboard-token-file: ${loaded.error}`);
    if (loaded.value.warning !== undefined) options.log.warn('dashboard token file', {uwsgi: `[dashboard] warning: ${loaded.value.warning}`});
    tokens = loaded.value.book;
  }
  const probe = startEmperorProbe();
  const started = await startDashboard({
    address: options.address,
    control: options.control,
    history: new VassalHistory(),
    events: options.transitions,
    tokens,
    log: options.log,
    emperorStats: () => probe.read(),
    configOf: (name) => Promise.resolve(options.definitionOf(name)),
  });
  if (!started.ok) {
    probe.stop();
    return started;
  }
  const dashboard = started.value;
  return ok({
    address: dashboard.address,
    close: async () => {
      await dashboard.close();
      probe.stop();
    },
  });
}
