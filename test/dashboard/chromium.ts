/** Debian's chromium for the dashboard's browser tests: where it is, whether to run them, how to launch it. */
import {existsSync} from 'node:fs';
import {describe} from '@jest/globals';
import {chromium, type Browser} from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) process.stderr.write(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)\n`);

/** `describe` where chromium is installed, `describe.skip` elsewhere. */
export const describeBrowser = hasChromium ? describe : describe.skip;

/** A headless chromium; playwright-core gives it a new, empty temporary profile and removes it on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
