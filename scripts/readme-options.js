// Rewrites the option reference in README.md (between the options markers) from the option table.
// Run after `npm run build`: node scripts/readme-options.js
import {readFileSync, writeFileSync} from 'node:fs';
import {optionsMarkdown} from '../dist/config/help.js';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const start = '<!-- options:start -->';
const end = '<!-- options:end -->';
const before = readme.slice(0, readme.indexOf(start) + start.length);
const after = readme.slice(readme.indexOf(end));
writeFileSync(path, `${before}\n${optionsMarkdown()}${after}`);
