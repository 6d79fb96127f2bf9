#!/usr/bin/env node
// Tiny launcher: everything lives in dist/, built by `npm ci` (prepare) or `npm run build`.
import v8 from 'node:v8';

// The emperor is long-lived and allocates little per event: a 1 MB young generation (instead of up to 16 MB per
// semi-space) and V8's size-over-speed heuristics keep its RSS near its live heap (measured with 1000 app-server
// vassals: 103 MB → 82 MB RSS; see bench/README.md).
v8.setFlagsFromString('--max-semi-space-size=1');
v8.setFlagsFromString('--semi-space-growth-factor=1');
v8.setFlagsFromString('--optimize-for-size');

// The command line is parsed first: whether V8's optimizing compiler is needed depends on it, and the answer must
// be given before the rest of kaiser is loaded (see src/v8-tiering.ts). TurboFan is off while it is read: loading
// the option modules made node's URL-to-path function hot enough to be optimized, which paged TurboFan in before the
// emperor's cap (+7 MB of emperor RSS, bench/README.md). Switched on again for every process that keeps it (a cap
// set with --max-opt cannot be raised again, --turbofan can).
v8.setFlagsFromString('--no-turbofan');
const args = process.argv.slice(2);
const {parseCommandLine} = await import('../dist/config/argv.js');
const parsed = parseCommandLine(args);
const {needsOptimizingCompiler} = await import('../dist/v8-tiering.js');
v8.setFlagsFromString(needsOptimizingCompiler(parsed) ? '--turbofan' : '--max-opt=1');

const {main} = await import('../dist/cli.js');
main(args, parsed);
