import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../e2e/helpers/gateway-store.js';
import { SextantProcess } from '../e2e/helpers/sextant-process.js';
import { chromiumOrSkip, launchChromium, screenshot } from './helpers/chromium.js';

/**
 * Bad input in a real Chromium against a real gateway: unknown entity ids and views, answers that
 * are errors, a session that expires, and the gateway restarting while the page is open. Each
 * is a clear message in the page, never a blank screen, and never an uncaught exception.
 */

const haveChromium = chromiumOrSkip();
const READ = 'browser-errors-read-0123456789';
const TTL_S = 3;

describe.skipIf(!haveChromium)('the explorer in Chromium: bad input', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'sextant-browser-errors-'));
  let port = 0;
  let base = '';
  let gateway: SextantProcess;
  let browser: Browser | undefined;
  let page: Page;
  const exceptions: string[] = [];

  const startGateway = async (): Promise<SextantProcess> => {
    const gw = new SextantProcess(['gateway'], {
      cwd: work,
      env: {
        SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port}`,
        SEXTANT_GATEWAY_DATA_DIR: path.join(work, 'gw'),
        SEXTANT_GATEWAY_TOKENS: 'errors-ingest-0123456789',
        SEXTANT_GATEWAY_READ_TOKENS: READ,
        SEXTANT_GATEWAY_SESSION_TTL: `${TTL_S}s`,
        SEXTANT_LISTEN: '127.0.0.1:0',
      },
    });
    await gw.waitForLog('gateway started', 30_000);
    return gw;
  };
  /** The main area says something: a view, a message or a form, never nothing. */
  const mainText = async (): Promise<string> => (await page.locator('main').innerText()).trim();
  const logIn = async (): Promise<void> => {
    await page.locator('#token').fill(READ);
    await page.getByRole('button', { name: 'Log in' }).click();
  };

  /** A new session cookie in the browser (sessions last TTL_S seconds here, for the expiry test). */
  const freshSession = async (): Promise<void> => {
    const r = await page.request.post(`${base}/ui/session`, { data: { token: READ }, headers: { origin: base } });
    expect(r.status()).toBe(200);
  };

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gateway = await startGateway();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => exceptions.push(e.message));
    await page.goto(`${base}/ui/`);
    await logIn();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    gateway.kill('SIGTERM');
    await gateway.exited;
    rmSync(work, { recursive: true, force: true });
  }, 30_000);

  it('unknown entity ids and views: a message that says so, with a way back', async () => {
    for (const id of ['0123456789abcdef', 'not-an-id', '%00%ff', 'x'.repeat(300)]) {
      await freshSession();
      await page.goto(`${base}/ui/entity/${id}`);
      await page.getByRole('heading', { name: 'No such entity' }).waitFor();
      expect(await page.getByRole('link', { name: 'Back to the overview' }).count()).toBe(1);
    }
    await screenshot(page, 'errors-01-unknown-entity');
    await freshSession();
    await page.goto(`${base}/ui/list/nonsense`);
    await page.getByRole('heading', { name: /No level called/ }).waitFor();
    await page.goto(`${base}/ui/what/is/this`);
    await page.getByRole('heading', { name: 'No such page' }).waitFor();
    expect(exceptions).toEqual([]);
  }, 60_000);

  it('API errors (500, a store that is unavailable, an answer that is not JSON): the error, and Try again', async () => {
    const answers = [
      { status: 500, body: JSON.stringify({ status: 'error', errorType: 'internal', error: 'internal error' }), expect: 'The gateway failed to answer' },
      { status: 503, body: JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'the store is unavailable: disk full' }), expect: 'disk full' },
      { status: 502, body: '<html>Bad gateway</html>', expect: 'The gateway does not answer' },
    ];
    for (const a of answers) {
      await freshSession();
      await page.route('**/api/v1/entities?**', (route) => route.fulfill({ status: a.status, contentType: 'application/json', body: a.body }));
      await page.goto(`${base}/ui/list/pod`);
      await page.locator('main .message-error').waitFor();
      expect(await mainText()).toContain(a.expect);
      await page.unroute('**/api/v1/entities?**');
    }
    await screenshot(page, 'errors-02-api-error');
    await freshSession();
    await page.goto(`${base}/ui/list/pod`);
    const asked: string[] = [];
    await page.route('**/api/v1/entities?**', (route) => {
      asked.push(route.request().url());
      return route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ status: 'error', errorType: 'internal', error: 'internal error' }) });
    });
    await page.getByRole('link', { name: 'Namespaces' }).click();
    const retry = page.getByRole('button', { name: 'Try again' });
    await retry.waitFor();
    // While the API still fails: the button asks for the list again, and the error comes back.
    const namespaceAsks = (): number => asked.filter((u) => u.includes('type=namespace')).length;
    const before = namespaceAsks();
    await retry.click();
    await expect.poll(namespaceAsks, { timeout: 10_000 }).toBeGreaterThan(before);
    await retry.waitFor();
    await page.unroute('**/api/v1/entities?**');
    // Once the API answers, the view recovers. On a loaded machine the list once asked again by
    // itself between these two steps, and the button was gone before it could be pressed
    // (locator.click: "element was detached", then 30 s of waiting): press it if it is there.
    await retry.click({ timeout: 5_000 }).catch(() => undefined);
    await page.getByRole('heading', { name: 'No namespaces' }).waitFor();
    expect(exceptions).toEqual([]);
  }, 60_000);

  it("problems: hidden behind a gateway without /api/v1/problems (an older one); a view and badges where it answers", async () => {
    await freshSession();
    // An older gateway: its OpenAPI document lists no problems endpoint.
    await page.route('**/api/v1/openapi.json', async (route) => {
      const doc = (await (await route.fetch()).json()) as { paths: Record<string, unknown> };
      for (const p of Object.keys(doc.paths)) if (p.startsWith('/api/v1/problems')) delete doc.paths[p];
      await route.fulfill({ json: doc });
    });
    await page.goto(`${base}/ui/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.locator('nav.side').getByRole('link', { name: 'Problems' }).count()).toBe(0);
    // Wait for a handler still answering (the page may ask twice), so none fulfils after this.
    await page.unrouteAll({ behavior: 'wait' });
    // This gateway (problem detection on): its OpenAPI document lists the endpoint; its answers here are made up.
    const id = 'fedcba9876543210';
    const pod = { id, type: 'pod', name: 'web-7', namespace: 'shop', attributes: {}, firstSeen: new Date().toISOString(), lastSeen: new Date().toISOString(), parents: [], metrics: { cpu: null, memory: null }, bounds: { cpuRequest: null, cpuLimit: null, memoryRequest: null, memoryLimit: null }, health: { level: 'critical', reasons: [{ reason: 'container.oom', count: 1 }] }, children: [], childrenTotal: 0, resources: 1 };
    const problem = { id: 'p-1', title: 'Memory exhausted on web-7', status: 'open', openedAt: new Date(Date.now() - 60_000).toISOString(), closedAt: null, rootCause: { id, type: 'pod', name: 'web-7', why: 'OOM kill' }, affected: [{ id, type: 'pod', name: 'web-7' }], evidence: [{ type: 'event', signal: 'oom_kill', entity: { id, type: 'pod', name: 'web-7' }, time: new Date(Date.now() - 60_000).toISOString(), summary: 'a process was killed by the OOM killer' }] };
    await page.route('**/api/v1/problems?**', (route) => route.fulfill({ json: { status: 'success', data: { problems: [problem] } } }));
    await page.route(`**/api/v1/entities/${id}`, (route) => route.fulfill({ json: { status: 'success', data: pod } }));
    await page.route(`**/api/v1/metrics?entity=${id}`, (route) => route.fulfill({ json: { status: 'success', data: { items: [] } } }));
    await page.goto(`${base}/ui/entity/${id}`);
    await page.locator('a.problem-badge', { hasText: '1 open problem' }).waitFor();
    await page.locator('nav.side').getByRole('link', { name: 'Problems' }).click();
    await page.getByRole('link', { name: 'Memory exhausted on web-7' }).waitFor();
    await screenshot(page, 'errors-05-problems');
    await page.unrouteAll();
    expect(exceptions).toEqual([]);
  }, 60_000);

  it('an expired session: the page asks for the token again, then carries on', async () => {
    await freshSession();
    await page.goto(`${base}/ui/list/pod`);
    await page.getByRole('heading', { name: 'Pods', exact: true }).waitFor();
    await page.waitForTimeout(TTL_S * 1000 + 500);
    await page.locator('nav.side').getByRole('link', { name: 'Nodes', exact: true }).click();
    await page.getByRole('heading', { name: 'Your session expired — log in again' }).waitFor();
    await screenshot(page, 'errors-03-session-expired');
    await logIn();
    await page.getByRole('heading', { name: 'Nodes', exact: true }).waitFor();
    expect(exceptions).toEqual([]);
  }, 60_000);

  it('the gateway restarting while the page is open: says so, then reconnects by itself', async () => {
    await freshSession();
    await page.goto(`${base}/ui/list/pod`);
    await page.getByRole('heading', { name: 'Pods', exact: true }).waitFor();
    gateway.kill('SIGTERM');
    await gateway.exited;
    await page.locator('nav.side').getByRole('link', { name: 'Workloads', exact: true }).click();
    await page.locator('.banner-error').waitFor();
    expect(await page.locator('.banner-error').innerText()).toContain('does not answer');
    expect(await mainText()).not.toBe('');
    expect(await mainText()).toContain('The gateway does not answer');
    await screenshot(page, 'errors-04-gateway-down');
    gateway = await startGateway();
    // Sessions live in the gateway's memory: after its restart the page asks for the token.
    await page.getByRole('heading', { name: 'Your session expired — log in again' }).waitFor({ timeout: 20_000 });
    expect(await page.locator('.banner-error').count()).toBe(0);
    await logIn();
    await page.getByRole('heading', { name: 'Workloads', exact: true }).waitFor();
    expect(exceptions).toEqual([]);
  }, 90_000);
});
