/**
 * The dashboard of a real emperor (`kaiser --emperor DIR --dashboard 127.0.0.1:0 --dashboard-token-file F`), in
 * Debian's chromium: the table lists the vassal, touching its file shows the reload live, the reload button reloads
 * it (logged with the token's name), charts draw from the emperor's accounting, and refusals hold end to end.
 */
import {chmodSync, mkdirSync, utimesSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, afterEach, beforeAll, expect, it} from '@jest/globals';
import type {Browser} from 'playwright-core';
import {describeBrowser, hasChromium, launchChromium} from './chromium.js';
import {cleanupProcesses, freePort, PYTHON, startKaiser, tempDir, waitFor200} from '../helpers/processes.js';

// Browser globals for the callbacks run by page.evaluate (this program is type-checked without the DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any, window: any, MutationObserver: any;
type HTMLCanvasElement = any;
type HTMLElement = any;

const TOKEN = 'ops-token-0123456789abcdef';

let browser: Browser | undefined;
beforeAll(async () => {
  if (!hasChromium) return;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await cleanupProcesses();
});

describeBrowser('dashboard of a real emperor', () => {
  it('lists the vassal, shows a touch-reload live, reloads from the button, draws charts, refuses strangers', async () => {
    const dir = tempDir();
    const vassals = join(dir, 'vassals');
    const tokens = join(dir, 'tokens');
    mkdirSync(vassals);
    writeFileSync(tokens, `ops:${TOKEN}\n`);
    chmodSync(tokens, 0o600);
    const port = await freePort();
    const file = join(vassals, 'web.toml');
    writeFileSync(file, `exec = ["${PYTHON}", "-m", "http.server", "${port}", "--bind", "127.0.0.1"]\nready = "tcp://127.0.0.1:${port}"\n`);
    const emperor = startKaiser(['--emperor', vassals, '--dashboard', '127.0.0.1:0', '--dashboard-token-file', tokens, '--control', join(dir, 'control.sock')], {cwd: dir});
    const line = await emperor.waitForLine(/kaiser dashboard on http:\/\/127\.0\.0\.1:\d+\//, 15_000);
    const base = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0];
    await waitFor200(port, 15_000);

    // The API: 401 without a token, the ls rows with one.
    expect((await fetch(`${base}/api/vassals`)).status).toBe(401);
    const rows = (await (await fetch(`${base}/api/vassals`, {headers: {Authorization: `Bearer ${TOKEN}`}})).json()) as {name: string; state: string}[];
    expect(rows.map((r) => [r.name, r.state])).toEqual([['web.toml', 'ready']]);
    expect((await fetch(`${base}/api/vassals/web/reload`, {method: 'POST', headers: {Authorization: `Bearer ${TOKEN}`}})).status).toBe(403);
    expect((await fetch(`${base}/api/vassals/web/reload`, {headers: {Authorization: `Bearer ${TOKEN}`}})).status).toBe(405);

    const context = await browser!.newContext({viewport: {width: 1400, height: 900}});
    const page = await context.newPage();
    expect((await page.goto(`${base}/`))?.status()).toBe(401);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    await page.waitForSelector('tr[data-name="web.toml"][data-state=ready]');
    await page.waitForFunction(() => document.getElementById('live')?.classList.contains('on'));

    // Touch the file: every state the row passes through is recorded as it shows.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as {seenStates: string[]}).seenStates = seen;
      const tr = document.querySelector('tr[data-name="web.toml"]')!;
      new MutationObserver(() => seen.push((tr as HTMLElement).dataset.state ?? '')).observe(tr, {attributes: true, attributeFilter: ['data-state']});
    });
    const now = new Date();
    utimesSync(file, now, now);
    await page.waitForFunction(() => (window as unknown as {seenStates: string[]}).seenStates.some((s) => s !== 'ready'), undefined, {timeout: 5_000});
    await page.waitForSelector('tr[data-name="web.toml"][data-state=ready]', {timeout: 15_000});

    // The reload button.
    const before = emperor.lines.length;
    await page.check('tr[data-name="web.toml"] input[type=checkbox]');
    await page.click('button.act-reload');
    await emperor.waitForLine('[dashboard] ops asked to reload web.toml: done', 5_000, before);

    // The vassal page: charts draw once the emperor's accounting has been sampled.
    await page.click('a[href="#/vassal/web.toml"]');
    await page.waitForSelector('body[data-ready=vassal]', {state: 'attached'});
    for (const chart of ['.cpu-chart', '.rss-chart']) {
      await page.waitForFunction(
        (selector) => {
          const canvas = document.querySelector(`${selector} canvas`) as HTMLCanvasElement;
          if (!canvas) return false;
          const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          let colored = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) colored++;
          return colored > 500;
        },
        chart,
        {timeout: 10_000},
      );
    }
    expect(await page.textContent('pre.config')).toContain('http.server');
    await context.close();
  });
});
