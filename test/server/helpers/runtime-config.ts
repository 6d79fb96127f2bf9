/**
 * KAISER_CONFIG for tests that start the Python master directly: every `server`-scoped option of
 * src/options.ts with its default (docs/runtime-protocol.md §1), plus the test's overrides.
 */
import {OPTIONS, type OptionSpec} from '../../../src/options.js';

export type RuntimeConfig = Record<string, unknown>;

export function runtimeConfig(overrides: RuntimeConfig = {}): RuntimeConfig {
  const cfg: RuntimeConfig = {};
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    if (!spec.scopes.includes('server')) continue;
    if (spec.type === 'env') cfg[spec.name] = {};
    else if (spec.multi) cfg[spec.name] = [];
    else if (spec.default !== undefined) cfg[spec.name] = spec.default;
    else cfg[spec.name] = spec.type === 'bool' ? false : null;
  }
  return {...cfg, _name: 'test', ...overrides};
}
