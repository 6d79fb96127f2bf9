/**
 * The corpus run (issue 15): every file of test/corpus/ under real uWSGI's emperor and under kaiser's, each in its
 * sandbox (with KAISER_CORPUS_RUN=1), and the per-file table written to $KAISER_CORPUS_TABLE (default: <tmp>/corpus-table.md; KAISER_CORPUS_ONLY=id,id
 * runs some). The target:
 * kaiser serves every file uWSGI serves. Runs when uWSGI is installed; bench/uwsgi-corpus.sh prints the table.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {kaiserEmperor, loadCorpus, prepareCorpus, renderTable, runEmperor, servedByUwsgiOnly, UWSGI_BIN, UWSGI_EMPEROR, type VassalOutcome} from './corpus.js';

const ROOT = mkdtempSync(join(tmpdir(), 'kaiser-corpus-'));
const WITHIN_MS = Number(process.env.KAISER_CORPUS_WITHIN_MS ?? 60_000);
// Two emperors over 41 vassals take minutes: bench/uwsgi-corpus.sh runs it (KAISER_CORPUS_RUN=1); corpus.test.ts
// checks the config side on every npm test.
const maybe = UWSGI_BIN === undefined || process.env.KAISER_CORPUS_RUN !== '1' ? describe.skip : describe;

afterAll(() => rmSync(ROOT, {recursive: true, force: true}));

maybe('the uWSGI corpus under both emperors', () => {
  it('kaiser serves every file uWSGI serves', async () => {
    const only = process.env.KAISER_CORPUS_ONLY?.split(',');
    const entries = loadCorpus().filter((e) => only === undefined || only.includes(e.id));
    const results = new Map<'uwsgi' | 'kaiser', VassalOutcome[]>();
    for (const emperor of [UWSGI_EMPEROR, kaiserEmperor(resolve('bin/kaiser.js'))]) {
      const root = join(ROOT, emperor.name);
      const vassals = await prepareCorpus(root, entries);
      results.set(emperor.name, await runEmperor(emperor, root, vassals, WITHIN_MS));
    }
    const table = renderTable(entries, results);
    writeFileSync(process.env.KAISER_CORPUS_TABLE ?? join(tmpdir(), 'corpus-table.md'), table);
    expect(servedByUwsgiOnly(results)).toEqual([]);
  }, 600_000);
});
