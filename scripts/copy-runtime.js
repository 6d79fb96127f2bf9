// Copies the non-TypeScript runtime files (the bundled Python server) next to the compiled JavaScript.
import {cpSync, mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist/server'), {recursive: true});
cpSync(join(root, 'src/server/python'), join(root, 'dist/server/python'), {
  recursive: true,
  filter: (src) => !src.includes('__pycache__'),
});
cpSync(join(root, 'src/dashboard/public'), join(root, 'dist/dashboard/public'), {recursive: true});
