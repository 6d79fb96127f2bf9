/**
 * The config side of the corpus, on every npm test: each sandboxed file real uWSGI serves (corpus.json, measured by
 * bench/uwsgi-corpus.sh) loads in kaiser as an app-server vassal, with no error, its includes read from the
 * prepared sandbox. The full run (both emperors, real requests) is corpus-run.int.test.ts.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, dirname, join} from 'node:path';
import {formatDiagnostic, loadVassalSpec} from '../../src/config/vassal-spec.js';
import {loadCorpus, prepareCorpus} from './corpus.js';

const ROOT = mkdtempSync(join(tmpdir(), 'kaiser-corpus-config-'));
afterAll(() => rmSync(ROOT, {recursive: true, force: true}));

describe('the uWSGI corpus, config side', () => {
  it('has at least 40 files, each with its source, commit and license', () => {
    const entries = loadCorpus();
    expect(entries.length).toBeGreaterThanOrEqual(40);
    for (const e of entries) {
      expect(e.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(e.license).not.toBe('');
      for (const name of e.found) expect(readFileSync(join('test/corpus/found', e.id, name)).length).toBeGreaterThan(0);
    }
  });

  it('loads every file uWSGI serves as an app-server vassal, without errors', async () => {
    const entries = loadCorpus().filter((e) => e.uwsgi === 'serving');
    const prepared = await prepareCorpus(ROOT, entries);
    const refused = prepared.flatMap((vassal) => {
      const loaded = loadVassalSpec(basename(vassal.vassalFile), readFileSync(vassal.vassalFile), {vassalDir: dirname(vassal.vassalFile), env: {PATH: '/usr/bin:/bin'}});
      if (!loaded.ok) return [`${vassal.entry.id}: ${loaded.error.map(formatDiagnostic).join('; ')}`];
      return loaded.value.kind === 'app-server' ? [] : [`${vassal.entry.id}: not an app-server vassal`];
    });
    expect(refused).toEqual([]);
  });
});
