// The explorer (issue M2.6) in Chromium with a cluster of 5,000 pods on 100 nodes in the store.
//
// 1. The store: M2.5's generator (store.bench.js, imported, not copied) with 100 nodes × 50 pods
//    (each pod and its container), 10 process groups a node, 5 log lines a second a node and its
//    container lifecycle events, over the last SEXTANT_BENCH_EXPLORER_MINUTES (default 3) at a
//    10 s interval, POSTed to a real `sextant gateway` as the agent would.
// 2. Debian's Chromium (playwright-core, executablePath; no download) logs in with the read
//    token once, then, each RUNS times on a fresh page (the first with an empty cache):
//    - the pod table: navigation start → the first rows in the DOM (a MutationObserver installed
//      before the page's own script records performance.now(), which counts from navigation);
//    - a pod's page: navigation start → every chart drawn (none left loading, at least one canvas).
// 3. Asset bytes: the build's manifest (gzip, the budget's measure) and what Chromium received
//    (PerformanceResourceTiming encodedBodySize: brotli, as it asks for).
// Baseline in the same run: the raw API calls the two views make first, timed in the same page
// with fetch() and performance.now(): /api/v1/entities?type=pod&limit=100 for the table, and for
// the pod page /api/v1/entities/{id} plus its four series calls one after the other; the
// ratios say what the page adds on top of the API.
// Targets: the pod table's first rows < 1 s, the pod page with charts < 1 s, ≤ 300 KB gzipped.
// Run: npm run bench -- explorer. Smaller: SEXTANT_BENCH_EXPLORER_NODES=10.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const CHROMIUM = process.env.SEXTANT_CHROMIUM ?? '/usr/bin/chromium';
const RUNS = 7;
const TARGET = { tableMs: 1000, entityMs: 1000, gzipBytes: 300 * 1024 };

/** store.bench.js with this bench's cluster: its own module instance (a query string), so the
 * store bench in the same `npm run bench` keeps its own sizes. */
async function generator() {
  const env = {
    SEXTANT_BENCH_STORE_NODES: process.env.SEXTANT_BENCH_EXPLORER_NODES ?? '100',
    SEXTANT_BENCH_STORE_PODS_PER_NODE: '50',
    SEXTANT_BENCH_STORE_GROUPS_PER_NODE: '10',
    SEXTANT_BENCH_STORE_LOGS_PER_NODE_S: '5',
    SEXTANT_BENCH_STORE_MINUTES: process.env.SEXTANT_BENCH_EXPLORER_MINUTES ?? '3',
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await import('./store.bench.js?explorer');
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

/** Installed before the page's script: when the pod table's first row and when all charts are drawn. */
function marks() {
  const w = window;
  w.__marks = {};
  const check = () => {
    if (w.__marks.rows === undefined && document.querySelector('.tbody .tr') !== null) w.__marks.rows = performance.now();
    const charts = document.querySelectorAll('figure.chart');
    if (w.__marks.charts === undefined && charts.length > 0 && document.querySelector('figure.chart[data-state="loading"]') === null && document.querySelector('figure.chart canvas') !== null) {
      w.__marks.charts = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-state'] });
}

export async function run() {
  if (!existsSync(CHROMIUM)) throw new Error(`explorer bench: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const { chromium } = await import('playwright-core');
  const g = await generator();
  const { NODES, PODS_PER_NODE, MINUTES, READ } = g.STORE_BENCH;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-bench-explorer-'));
  const rows = [];
  let gw;
  let browser;
  try {
    const c = await g.cluster();
    const endMs = Math.floor(Date.now() / 10_000) * 10_000;
    const m = await g.metricsBodies(c, endMs);
    const l = await g.logBodies(c, endMs);
    gw = await g.startGateway(path.join(tmp, 'store'), {});
    const t0 = performance.now();
    await g.sendAll(gw.url, 'metrics', m.bodies);
    await g.sendAll(gw.url, 'logs', l.bodies);
    for (;;) {
      const s = await g.api(gw.url, '/api/v1/status');
      if (s.pendingBytes === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const pods = await g.api(gw.url, '/api/v1/entities?type=pod&limit=1');
    console.log(`explorer bench: ${NODES} nodes × ${PODS_PER_NODE} pods = ${pods.total} pods, ${m.points.toLocaleString('en-US')} points and ${l.records.toLocaleString('en-US')} log records over ${MINUTES} min, stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // A pod in the middle of the list, so the table and the page are not both the first row.
    const mid = await g.api(gw.url, `/api/v1/entities?type=pod&q=${encodeURIComponent('w-7-2507')}&limit=1`);
    const podId = (mid.items[0] ?? pods.items[0]).id;

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript(marks);
    const login = await context.request.post(`${gw.url}/ui/session`, { data: { token: READ } });
    if (login.status() !== 200) throw new Error(`login: HTTP ${login.status()}`);

    const measure = async (url, mark) => {
      const out = [];
      let bytes;
      for (let i = 0; i < RUNS; i++) {
        const page = await context.newPage();
        await page.goto(url);
        await page.waitForFunction((k) => window.__marks[k] !== undefined, mark, { timeout: 30_000 });
        out.push(await page.evaluate((k) => window.__marks[k], mark));
        if (i === 0) {
          bytes = await page.evaluate(() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource').filter((r) => /\/ui\/assets\//.test(r.name));
            return (nav?.encodedBodySize ?? 0) + res.reduce((s, r) => s + r.encodedBodySize, 0);
          });
        }
        await page.close();
      }
      return { first: out[0], median: median(out), all: out, bytes };
    };
    const table = await measure(`${gw.url}/ui/list/pod`, 'rows');
    const entity = await measure(`${gw.url}/ui/entity/${podId}`, 'charts');

    // Baseline: the same API calls, raw, from the same page (no rendering).
    const page = await context.newPage();
    await page.goto(`${gw.url}/ui/`);
    const base = await page.evaluate(
      async ({ podId, runs }) => {
        const time = async (fn) => {
          const xs = [];
          for (let i = 0; i < runs; i++) {
            const t = performance.now();
            await fn();
            xs.push(performance.now() - t);
          }
          xs.sort((a, b) => a - b);
          return xs[Math.floor(xs.length / 2)];
        };
        const get = async (p) => (await fetch(p)).json();
        const list = await time(() => get('/api/v1/entities?type=pod&limit=100'));
        const series = ['k8s.pod.cpu.usage', 'k8s.pod.memory.working_set', 'sextant.container.cpu.throttling.throttled_time', 'k8s.pod.network.io'];
        const one = await time(async () => {
          await get(`/api/v1/entities/${podId}`);
          for (const s of series) await get(`/api/v1/series?metric=${s}&entity=${podId}&from=now-1h&step=15s`);
        });
        return { list, one };
      },
      { podId, runs: RUNS },
    );
    await page.close();

    const manifest = JSON.parse(readFileSync(path.join(root, 'dist/ui/manifest.json'), 'utf8'));
    rows.push({ measure: `pod table: navigation → first rows (${pods.total} pods)`, value: ms(table.median), target: `< ${TARGET.tableMs} ms`, ok: table.median < TARGET.tableMs, note: `median of ${RUNS}; first (empty cache) ${ms(table.first)}; ${(table.median / base.list).toFixed(1)}× the raw API call (${ms(base.list)})` });
    rows.push({ measure: 'pod page: navigation → every chart drawn', value: ms(entity.median), target: `< ${TARGET.entityMs} ms`, ok: entity.median < TARGET.entityMs, note: `median of ${RUNS}; first ${ms(entity.first)}; ${(entity.median / base.one).toFixed(1)}× its API calls made one by one (${ms(base.one)})` });
    rows.push({ measure: 'baseline: GET /api/v1/entities?type=pod&limit=100 from the page', value: ms(base.list), target: '', ok: true, note: `median of ${RUNS}` });
    rows.push({ measure: 'baseline: the pod page\'s API calls (entity + 4 series), sequential', value: ms(base.one), target: '', ok: true, note: `median of ${RUNS}` });
    rows.push({ measure: 'assets: gzipped (the budget)', value: `${(manifest.totalGzipBytes / 1024).toFixed(1)} KiB`, target: `≤ ${TARGET.gzipBytes / 1024} KiB`, ok: manifest.totalGzipBytes <= TARGET.gzipBytes, note: `${manifest.files.map((f) => `${f.path} ${(f.gzipBytes / 1024).toFixed(1)}`).join(', ')}` });
    rows.push({ measure: 'assets: received by Chromium (brotli)', value: `${(table.bytes / 1024).toFixed(1)} KiB`, target: '', ok: true, note: `${(manifest.files.reduce((s, f) => s + f.bytes, 0) / 1024).toFixed(1)} KiB uncompressed` });
  } finally {
    await browser?.close();
    if (gw !== undefined) await g.stopGateway(gw);
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
