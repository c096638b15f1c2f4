import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { presentOrSkip } from '../../helpers/ci-gate.js';

/**
 * Debian's Chromium (`apt-get install chromium`, provisioned by .ci/run), driven by
 * playwright-core through its executablePath: no browser is downloaded. A missing Chromium skips
 * the browser tests locally and fails them under CI=true, like every other gate.
 */

export const CHROMIUM = process.env['SEXTANT_CHROMIUM'] ?? '/usr/bin/chromium';

export function chromiumOrSkip(): boolean {
  return presentOrSkip(existsSync(CHROMIUM), `Chromium (${CHROMIUM})`, 'apt-get install chromium (.ci/run does), or set SEXTANT_CHROMIUM');
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests run as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** Screenshots go here (gitignored): CI keeps the folder as the tests' artifacts. */
export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../artifacts');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/**
 * What the page reported that a user would not see: console errors, uncaught exceptions, and
 * any failed request (the explorer shows a message for those, but the happy path has none).
 */
export function watchPage(page: Page): { errors: string[]; clear(): void } {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`exception: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return {
    errors,
    clear: () => {
      errors.length = 0;
    },
  };
}
