/**
 * uWSGI's three expansion passes over a config's values, ported from `uwsgi_apply_config_pass` (core/utils.c,
 * 2.0) so the same file gives the same values: first every value's `$(NAME)` (environment), then every value's
 * `@(file)` (file contents), then every value's `%(name)` (the first value set for `name`, with uWSGI's
 * left-to-right math `%(a + 1)`). Quirks kept on purpose, because real files rely on the results:
 *   - a reference that resolves is replaced and the value is scanned again from its *second* character (uWSGI
 *     sets j = 0 and the loop adds one), so a value inserted at the very start is not itself expanded;
 *   - an unresolved reference stays literal; `%()` stays literal;
 *   - a `%` inside a reference restarts it, so `%(a%(b))` expands `b` first, then `a…`;
 *   - lookups see the values as they are at that moment: earlier entries already expanded, later ones raw.
 * Unlike uWSGI, the work is bounded (`config-limits.ts`): a value growing past the size limit, too many
 * substitutions, or too much scanning stops with an error naming the key, where uWSGI loops or runs out of memory.
 */
import {CONFIG_LIMITS} from './config-limits.js';

/** One value the passes may rewrite, with the key it belongs to (for lookups and errors). */
export interface ExpansionSlot {
  readonly key: string;
  value: string;
}

/** Why expansion stopped, for a KAISER_CONFIG_EXPANSION diagnostic on `slot`. */
export interface ExpansionFailure {
  readonly slot: ExpansionSlot;
  readonly reason: string;
}

/** Shared across the three passes of one config. */
export interface ExpansionBudget {
  substitutionsLeft: number;
  scanLeft: number;
}

/** A fresh budget with the configured limits. */
export function expansionBudget(): ExpansionBudget {
  return {substitutionsLeft: CONFIG_LIMITS.substitutions, scanLeft: CONFIG_LIMITS.scannedChars};
}

/** What a reference resolves to: a string, undefined (stays literal), or an error (stops expansion). */
export type Resolution = string | undefined | {readonly error: string};

/**
 * Runs one pass (`symbol` `$`, `@` or `%`) over `slots` in order, rewriting their values in place. `resolve` gets
 * the text between the parentheses. Returns the first failure, if any (later slots are then left as they are).
 */
export function applyExpansionPass(
  slots: readonly ExpansionSlot[],
  symbol: '$' | '@' | '%',
  resolve: (name: string) => Resolution,
  budget: ExpansionBudget,
): ExpansionFailure | undefined {
  for (const slot of slots) {
    if (!slot.value.includes(`${symbol}(`)) continue;
    const failure = expandSlot(slot, symbol, resolve, budget);
    if (failure !== undefined) return {slot, reason: failure};
  }
  return undefined;
}

function expandSlot(slot: ExpansionSlot, symbol: string, resolve: (name: string) => Resolution, budget: ExpansionBudget): string | undefined {
  let value = slot.value;
  let state = 0; // 0 nothing, 1 saw the symbol, ≥ 2 inside a reference: 2 + characters of the name so far
  let depth = 0;
  let keyStart = -1;
  for (let j = 0; j < value.length; j++) {
    if (--budget.scanLeft < 0) {
      slot.value = value;
      return `expanding the config scans more than ${CONFIG_LIMITS.scannedChars} characters`;
    }
    const c = value[j];
    if (c === symbol) {
      state = 1;
    } else if (c === '(' && state === 1) {
      state = 2;
      depth = 0;
      keyStart = j + 1;
    } else if (state > 1) {
      if (c === '(') {
        state++;
        depth++;
      } else if (c === ')') {
        if (depth > 0) {
          state++;
          depth--;
          continue;
        }
        if (state <= 2) {
          state = 0;
          continue;
        }
        const name = value.slice(keyStart, keyStart + state - 2);
        const found = resolve(name);
        if (found === undefined) {
          state = 0;
          continue;
        }
        if (typeof found !== 'string') {
          slot.value = value;
          return found.error;
        }
        if (--budget.substitutionsLeft < 0) {
          slot.value = value;
          return `more than ${CONFIG_LIMITS.substitutions} substitutions (a placeholder that contains itself?)`;
        }
        const next = value.slice(0, keyStart - 2) + found + value.slice(keyStart + state - 1);
        if (next.length > CONFIG_LIMITS.valueBytes) {
          slot.value = value;
          return `the value grows past ${CONFIG_LIMITS.valueBytes} bytes while expanding ${symbol}(${shorten(name)})`;
        }
        value = next;
        slot.value = value;
        state = 0;
        // uWSGI: j = 0, then the loop's j++ — the rescan starts at the second character.
        j = 0;
      } else {
        state++;
      }
    } else {
      state = 0;
    }
  }
  slot.value = value;
  return undefined;
}

/**
 * uWSGI's `uwsgi_manage_placeholder`: a name without spaces is looked up as is; with spaces, the tokens form a
 * left-to-right pipeline: numbers and looked-up values are concatenated, `+ - * /` combine the running value with
 * the next token as integers (division by zero gives 0), `++`/`--` add or subtract one. An unknown name in a
 * pipeline counts as the empty string; a pipeline of operators only resolves to nothing.
 */
export function resolvePlaceholder(expression: string, lookup: (name: string) => string | undefined): string | undefined {
  if (!expression.includes(' ')) return lookup(expression);
  type Op = 'concat' | '+' | '-' | '*' | '/';
  let op: Op = 'concat';
  let current: string | undefined;
  for (const token of expression.split(' ').filter((t) => t !== '')) {
    if (token === '+' || token === '-' || token === '*' || token === '/') {
      op = token;
      continue;
    }
    if (token === '++' || token === '--') {
      if (current !== undefined) current = String(toInt(current) + (token === '++' ? 1n : -1n));
      op = 'concat';
      continue;
    }
    const value = /^[0-9]+$/.test(token) ? token : (lookup(token) ?? '');
    const left = current === undefined ? 0n : toInt(current);
    const right = toInt(value);
    switch (op) {
      case 'concat':
        current = (current ?? '') + value;
        break;
      case '+':
        current = String(wrap(left + right));
        break;
      case '-':
        current = String(wrap(left - right));
        break;
      case '*':
        current = String(wrap(left * right));
        break;
      case '/':
        current = right === 0n ? '0' : String(wrap(left / right));
        break;
      default:
        throw new Error(`Internal error: unknown placeholder operator ${String(op satisfies never)}`);
    }
    op = 'concat';
  }
  return current;
}

/** C's strtoll(text, NULL, 10): leading blanks, an optional sign, digits; 0 when none; saturating at int64. */
function toInt(text: string): bigint {
  const match = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(text);
  if (match?.[1] === undefined) return 0n;
  const n = BigInt(match[1]);
  return n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** int64 arithmetic wraps around in C (in practice); keep the result in range the same way. */
function wrap(n: bigint): bigint {
  return BigInt.asIntN(64, n);
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
