// Writes man/kaiser.1 from the option table and the commands' help (src/man-page.ts). Part of `npm run build`;
// package.json's "man" field makes `npm install -g` install it, so `man kaiser` works.
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {manPage} from '../dist/man-page.js';

const {version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
mkdirSync(new URL('../man/', import.meta.url), {recursive: true});
writeFileSync(new URL('../man/kaiser.1', import.meta.url), manPage(version));
