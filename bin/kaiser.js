#!/usr/bin/env node
// Tiny launcher: everything lives in dist/cli.js, built by `npm ci` (prepare) or `npm run build`.
import {main} from '../dist/cli.js';

main(process.argv.slice(2));
