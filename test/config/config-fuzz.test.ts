/**
 * Fuzzing the config layer (issue 14): thousands of generated vassal files (garbage, binary, huge, deep, placeholder
 * and include bombs, includes of FIFOs and devices, a bad value in every key of every type) go through
 * `loadVassalSpec` as the emperor's definition step runs it. Each must come back as a value (a spec, or diagnostics
 * naming the file), never a throw, within a bounded time per file; the seed is fixed, so a failure replays.
 */
import {describe, expect, it} from '@jest/globals';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {formatDiagnostic, loadVassalSpec} from '../../src/config/vassal-spec.js';
import {HOST, NOW_MS} from './fixed-context.js';
import {generatedVassalFiles, prepareSpecials} from '../helpers/vassal-fuzz.js';

describe('config fuzz', () => {
  it('turns every generated vassal file into a spec or diagnostics, never a throw', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaiser-fuzz-'));
    try {
      prepareSpecials(dir);
      const ctx = {vassalDir: dir, env: {HOME: '/home/alice'}, host: HOST, nowMs: NOW_MS, fileExists: (path: string) => path === '/usr/bin/python3'};
      let files = 0;
      let refused = 0;
      let slowest = {name: '', ms: -1};
      for (const [name, text] of generatedVassalFiles(dir)) {
        files += 1;
        const started = performance.now();
        let result: ReturnType<typeof loadVassalSpec>;
        try {
          result = loadVassalSpec(name, text, ctx);
        } catch (error) {
          throw new Error(`${name} threw: ${String(error)}\n--- content (first 500 bytes) ---\n${Buffer.from(text).subarray(0, 500).toString('latin1')}`, {cause: error});
        }
        const ms = performance.now() - started;
        if (ms > slowest.ms) slowest = {name, ms};
        if (!result.ok) {
          refused += 1;
          // Every diagnostic names the file and formats (no undefined placeholders).
          for (const diagnostic of result.error) expect(formatDiagnostic(diagnostic)).toContain(name);
        }
      }
      expect(files).toBeGreaterThanOrEqual(1000);
      expect(refused).toBeGreaterThan(files / 2);
      // Not a timing assertion on the machine: a runaway expansion takes seconds and gigabytes, not milliseconds.
      expect(process.memoryUsage().heapUsed).toBeLessThan(1024 * 1024 * 1024);
      expect(slowest.name).not.toBe(''); // the slowest file is named in a failure's report above
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});
