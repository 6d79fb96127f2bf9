// Copies the non-TypeScript runtime files (the bundled Python server, the Perl/Ruby/Lua workers) next to the
// compiled JavaScript.
import {cpSync, mkdirSync, readdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist/server'), {recursive: true});
cpSync(join(root, 'src/server/python'), join(root, 'dist/server/python'), {
  recursive: true,
  filter: (src) => !src.includes('__pycache__'),
});
cpSync(join(root, 'src/dashboard/public'), join(root, 'dist/dashboard/public'), {recursive: true});
// Workers written in their own language (src/workers/psgi/worker.pl, …): everything but TypeScript and docs.
for (const entry of readdirSync(join(root, 'src/workers'), {withFileTypes: true})) {
  if (!entry.isDirectory()) continue;
  cpSync(join(root, 'src/workers', entry.name), join(root, 'dist/workers', entry.name), {
    recursive: true,
    filter: (src) => !/\.(ts|md)$/.test(src),
  });
}
