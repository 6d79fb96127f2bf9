/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (no browser download). Skipped, with
 * a message, only when /usr/bin/chromium is absent (`apt-get install -y chromium`).
 */
import {mkdirSync} from 'node:fs';
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {afterAll, afterEach, beforeAll, expect, it} from '@jest/globals';
import type {Browser, BrowserContext, Page} from 'playwright-core';
import {describeBrowser, hasChromium, launchChromium} from './chromium.js';
import type {VassalHistory} from '../../src/dashboard/history.js';
import {BEARER, manyVassals, row, startRig, TOKEN, type Rig} from './dashboard-rig.js';
import {waitFor} from '../helpers/processes.js';

// Browser globals for the callbacks run by page.evaluate (this program is type-checked without the DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
type HTMLCanvasElement = any;

// The README's screenshots are refreshed only on request (KAISER_SCREENSHOTS=1), so a test run leaves the tree clean.
const SCREENSHOTS = process.env['KAISER_SCREENSHOTS'] === '1' ? new URL('../../docs/screenshots/', import.meta.url).pathname : undefined;

let browser: Browser;
let context: BrowserContext | undefined;
let rig: Rig | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
  context = undefined;
  await rig?.close();
  rig = undefined;
});

/** A page signed in through the form, on the overview. */
async function signedIn(r: Rig, viewport = {width: 1400, height: 900}): Promise<Page> {
  context = await browser.newContext({viewport});
  const page = await context.newPage();
  const base = `http://127.0.0.1:${r.port}/`;
  const first = await page.goto(base);
  expect(first?.status()).toBe(401);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(base), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-ready=overview]', {state: 'attached'});
  return page;
}

describeBrowser('dashboard in chromium', () => {
  it('renders 1000 vassals in the table, with counts by state, sorts and filters', async () => {
    rig = await startRig(manyVassals(1000));
    const page = await signedIn(rig);
    expect(await page.locator('tbody tr').count()).toBe(1000);
    const renderMs = Number(await page.getAttribute('table.vassals', 'data-render-ms'));
    const shownAtMs = Number(await page.getAttribute('table.vassals', 'data-shown-at-ms'));
    process.stdout.write(`figure: dashboard_render_1000_rows_ms ${renderMs} (shown ${shownAtMs} ms after navigation)\n`);
    expect(await page.textContent('.counts')).toContain('1000 vassals');
    expect(await page.textContent('.count[data-state=backoff]')).toContain('167');
    if (SCREENSHOTS) {
      mkdirSync(SCREENSHOTS, {recursive: true});
      await page.screenshot({path: join(SCREENSHOTS, 'overview.png')});
    }

    await page.click('th[data-key=cpu]');
    await page.click('th[data-key=cpu]');
    expect(await page.getAttribute('th[data-key=cpu]', 'aria-sort')).toBe('descending');
    expect(await page.textContent('tbody tr:first-child td:nth-child(6)')).toBe('12.0');

    await page.fill('input[type=search]', 'vassal-000');
    expect(await page.locator('tbody tr').count()).toBe(10);
    await page.fill('input[type=search]', 'backoff');
    expect(await page.locator('tbody tr').count()).toBe(167);

    await page.fill('input[type=search]', '');
    expect(await page.locator('tbody tr').count()).toBe(1000);
  });

  it('loads the overview in at most 100 KB gzipped', async () => {
    rig = await startRig(manyVassals(1000));
    context = await browser.newContext();
    const page = await context.newPage();
    let encodedBytes = 0;
    const client = await context.newCDPSession(page);
    await client.send('Network.enable');
    client.on('Network.loadingFinished', (event: {encodedDataLength: number}) => {
      encodedBytes += event.encodedDataLength;
    });
    await page.setExtraHTTPHeaders(BEARER);
    await page.goto(`http://127.0.0.1:${rig.port}/`);
    await page.waitForSelector('body[data-ready=overview]', {state: 'attached'});
    const shownAtMs = Number(await page.getAttribute('table.vassals', 'data-shown-at-ms'));
    process.stdout.write(`figure: dashboard_overview_shown_ms ${shownAtMs} (1000 vassals, since navigation start, token header)\n`);
    process.stdout.write(`figure: dashboard_first_load_kb ${(encodedBytes / 1024).toFixed(1)} (1000 vassals, gzipped, headers included)\n`);
    expect(encodedBytes).toBeLessThan(100 * 1024);
  });

  it('shows a state change pushed through the events live, and the reload button calls control.reload', async () => {
    rig = await startRig([row('web.toml'), row('shop.ini'), row('<img src=x onerror=alert(1)>.ini', {lastError: '<script>alert(2)</script>'})]);
    const page = await signedIn(rig);
    let dialogs = 0;
    page.on('dialog', (dialog) => {
      dialogs++;
      void dialog.dismiss();
    });
    // Escaped: the hostile name and error are text, not markup.
    expect(await page.textContent('tr[data-name^="<img"] td.error')).toBe('<script>alert(2)</script>');
    expect(await page.locator('tbody img, tbody script').count()).toBe(0);
    await page.waitForFunction(() => document.getElementById('live')?.classList.contains('on'));

    rig.control.transition('web.toml', 'backoff', 'EXIT', {pid: -1, lastError: 'exited with code 3'});
    const start = Date.now();
    await page.waitForSelector('tr[data-name="web.toml"][data-state=backoff]', {timeout: 2_000});
    process.stdout.write(`figure: dashboard_state_change_on_screen_ms ${Date.now() - start}\n`);
    expect(await page.textContent('tr[data-name="web.toml"] td.error')).toBe('exited with code 3');

    await page.check('tr[data-name="shop.ini"] input[type=checkbox]');
    await page.click('button.act-reload');
    await waitFor(() => rig!.control.actions.includes('reload shop.ini'), 5_000, 'control.reload was called');
    expect(rig.control.actions).toEqual(['reload shop.ini']);
    expect(rig.log.entries.find((e) => e.message === 'dashboard action')?.fields['by']).toBe('ops');
    expect(dialogs).toBe(0);
  });

  it('draws live CPU and RSS charts on a vassal page, with history, config and log tail', async () => {
    // Ten minutes of history before the dashboard starts sampling (every 100 ms here).
    const seed = (history: VassalHistory) => {
      const now = Date.now();
      for (let s = 300; s > 0; s--) {
        history.record(now - s * 2000, [
          {name: 'web.toml', cpu: 20 + 15 * Math.sin(s / 9) + (s % 7), rss: (60 + 20 * Math.sin(s / 40) + s / 30) * 1048576},
          {name: 'shop.ini', cpu: 1, rss: 20 * 1048576},
        ]);
      }
    };
    rig = await startRig([row('web.toml', {cpu: 18.5, rss: 62 * 1048576}), row('shop.ini')], {sampleMs: 100, seed});
    rig.control.print('web.toml', 'Serving HTTP on 127.0.0.1 port 8080');
    rig.control.transition('web.toml', 'reloading', 'RELOAD');
    rig.control.transition('web.toml', 'ready', 'RELOADED');
    const page = await signedIn(rig);
    await page.click('a[href="#/vassal/web.toml"]');
    await page.waitForSelector('body[data-ready=vassal]', {state: 'attached'});
    expect(await page.textContent('h1')).toBe('web.toml');
    expect(await page.textContent('pre.config')).toContain('<script>alert(1)</script>');
    await page.waitForFunction(() => document.querySelector('pre.logs')?.textContent?.includes('Serving HTTP'));
    rig.control.print('web.toml', 'GET /live 200');
    await page.waitForFunction(() => document.querySelector('pre.logs')?.textContent?.includes('GET /live 200'));
    expect(await page.locator('table.history tbody tr').count()).toBeGreaterThanOrEqual(2);

    for (const chart of ['.cpu-chart', '.rss-chart']) {
      const painted = await page.$eval(`${chart} canvas`, (canvas) => {
        const c = canvas as HTMLCanvasElement;
        const pixels = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let colored = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) colored++;
        return colored;
      });
      expect(painted).toBeGreaterThan(500);
    }
    await page.click('button.act-reload');
    await waitFor(() => rig!.control.actions.includes('reload web.toml'), 5_000, 'control.reload was called');
    if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'vassal.png'), fullPage: true});
  });

  it('refuses the unauthenticated, the cross-origin and the header-less from a browser', async () => {
    rig = await startRig([row('web.toml')]);
    context = await browser.newContext();
    const page = await context.newPage();
    const base = `http://127.0.0.1:${rig.port}`;
    expect((await page.goto(`${base}/api/vassals`))?.status()).toBe(401);
    expect((await page.request.post(`${base}/api/vassals/web.toml/reload`, {headers: {'X-Requested-With': 'kaiser'}})).status()).toBe(401);

    await page.goto(`${base}/`);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    await page.waitForSelector('body[data-ready=overview]', {state: 'attached'});
    // Signed in, same origin, but without X-Requested-With: 403.
    expect(await page.evaluate(async () => (await fetch('/api/vassals/web.toml/reload', {method: 'POST'})).status)).toBe(403);

    // A page of another origin in the same browser: the SameSite=Strict cookie is not sent, the custom header needs a
    // preflight that gets no CORS header, and a simple no-cors POST is refused.
    const evil = createServer((_req, res) => res.end('<!doctype html><title>evil</title>'));
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const other = await context.newPage();
      await other.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      const target = `${base}/api/vassals/web.toml/reload`;
      const withHeader = await other.evaluate(async (url) => {
        try {
          return `status ${(await fetch(url, {method: 'POST', headers: {'X-Requested-With': 'kaiser'}, credentials: 'include'})).status}`;
        } catch (error) {
          return `blocked: ${String(error)}`;
        }
      }, target);
      expect(withHeader).toMatch(/^blocked/);
      const simple = await other.evaluate(async (url) => {
        try {
          return (await fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include'})).type;
        } catch (error) {
          return `blocked: ${String(error)}`; // Cross-Origin-Resource-Policy: same-origin hides even the opaque answer
        }
      }, target);
      expect(simple).toMatch(/^(opaque|blocked)/);
      const readable = await other.evaluate(async (url) => {
        try {
          return await (await fetch(url, {credentials: 'include'})).text();
        } catch (error) {
          return `blocked: ${String(error)}`;
        }
      }, `${base}/api/vassals`);
      expect(readable).toMatch(/^blocked/);
    } finally {
      evil.close();
    }
    expect(rig.control.actions).toEqual([]);
  });
});
