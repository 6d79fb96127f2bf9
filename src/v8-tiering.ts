/**
 * Which V8 compiler tiers a kaiser process needs, decided from its command line before anything else is loaded.
 *
 * The emperor runs no hot code: events, accounting ticks, control requests, subscription datagrams and ACME orders
 * are well served by V8's baseline compiler (Sparkplug). Capping V8 there (`--max-opt=1`) means the optimizing
 * compiler (TurboFan), a large part of the node binary, is never paged in: measured with 1000 app-server vassals,
 * emperor RSS 77 -> 69 MB with the same idle CPU (bench/README.md). The front door's hot code (plain HTTP, TLS,
 * HTTP/2, the fastrouter) runs in the router processes (src/router/), which are started without the cap. The cap
 * must be set before V8 first optimizes a function (loading kaiser's modules already does), which is why
 * bin/kaiser.js asks before importing the rest; raising it again later has no effect.
 */
import type {CommandLineMode} from './config/argv.js';
import type {Result} from './result.js';

/** True when the process should keep V8's optimizing compiler. */
export function needsOptimizingCompiler(parsed: Result<CommandLineMode, unknown>): boolean {
  if (!parsed.ok) return true; // it prints an error and exits: nothing to save
  return parsed.value.mode !== 'emperor';
}
