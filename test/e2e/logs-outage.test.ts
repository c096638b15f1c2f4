import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../integration/helpers/fault-proxy.js';
import { startGateway, storedLogNumbers } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';
import { until } from '../helpers/wait.js';

/**
 * At least once across an endpoint outage: a writer appends to a CRI file throughout; the real
 * agent ships through a fault proxy to a real gateway; the proxy refuses connections for 60 s
 * (long enough for the logs ring to fill and push back on the tailer), then answers 503 and 429
 * with Retry-After, then passes. Every line must be stored, none twice.
 */

const UID = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const RATE = 500; // lines per second
const OUTAGE_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('sextant agent tailing logs through a 60 s endpoint outage and 503/429 answers', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sextant-outage-'));
  const procs: SextantProcess[] = [];
  let proxy: FaultProxy | undefined;
  afterAll(async () => {
    for (const p of procs) {
      p.kill('SIGKILL');
      await p.exited;
    }
    await proxy?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('stores every line exactly once', async () => {
    const dir = join(tmp, `host/var/log/pods/outage_writer-0_${UID}/app`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, '0.log');
    writeFileSync(file, '');
    const { gateway, port: gwPort, dataDir: gwData } = await startGateway(tmp);
    procs.push(gateway);
    proxy = await startFaultProxy(`http://127.0.0.1:${gwPort}`);
    const agent = new SextantProcess(['agent'], {
      cwd: tmp,
      env: {
        SEXTANT_ENDPOINT: proxy.url,
        SEXTANT_HOST_ROOT: join(tmp, 'host'),
        SEXTANT_STATE_DIR: join(tmp, 'state'),
        SEXTANT_LOGS_READ_FROM: 'beginning',
        SEXTANT_CONTAINERS_ENABLED: 'false',
        SEXTANT_INTERVAL: '1m',
        SEXTANT_LISTEN: '127.0.0.1:0',
        // Short retry backoff so the test does not wait out a 30 s backoff after the outage.
        SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '2s',
        // A small logs ring, so the outage fills it and the tailer must stop reading.
        SEXTANT_PIPELINE_LOGS_MAX_ITEMS: '5000',
      },
    });
    procs.push(agent);
    const self = String((await agent.waitForLog('agent started'))['self']);

    let written = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        let chunk = '';
        for (let k = 0; k < RATE / 20; k++) {
          const i = written++;
          chunk += `2026-11-25T12:00:00.${String(i).padStart(9, '0')}Z stdout F {"msg":"outage test","n":${i}}\n`;
        }
        appendFileSync(file, chunk);
        await sleep(50);
      }
    })();

    await sleep(5_000);
    await proxy.down();
    await sleep(OUTAGE_MS);
    await proxy.up();
    proxy.set({ kind: 'status', status: 503, headers: { 'retry-after': '1' } }, 4);
    await sleep(4_000);
    proxy.set({ kind: 'status', status: 429, headers: { 'retry-after': '1' } }, 4);
    await sleep(4_000);
    writing = false;
    await writer;

    // While the store grows; short of every line when it stops, the tally below says what is missing.
    let got: number[] = [];
    await until('every line stored', () => new Set((got = storedLogNumbers(gwData))).size >= written, {
      timeoutMs: 20_000,
      everyMs: 500,
      progress: () => got.length,
    }).catch(() => undefined);
    const unique = new Set(got);
    const missing: number[] = [];
    for (let i = 0; i < written; i++) if (!unique.has(i)) missing.push(i);
    const answered = proxy.seen.map((s) => s.outcome);
    console.log(
      `logs outage test: ${written} lines, ${missing.length} missing, ${got.length - unique.size} duplicates; proxy answered 503 ×${answered.filter((o) => o === 503).length}, 429 ×${answered.filter((o) => o === 429).length}`,
    );
    if (missing.length > 0) {
      // What the two processes said and counted, to tell a slow store from a stuck sender.
      const counters = (text: string): string => text.split('\n').filter((l) => /^sextant_(export|pipeline_dropped|gateway_(requests|rejected|store))/.test(l) && !/ 0$/.test(l)).join('\n');
      const agentMetrics = await fetch(`${self}/metrics`).then((r) => r.text()).catch((e: unknown) => String(e));
      console.log(`missing ${missing[0]}..${missing.at(-1)}\nagent counters:\n${counters(agentMetrics)}\nagent log tail:\n${agent.stderr.slice(-4000)}\ngateway log tail:\n${gateway.stderr.slice(-4000)}`);
    }
    expect(missing.slice(0, 10)).toEqual([]);
    expect(got.length - unique.size).toBe(0);
    expect(answered.filter((o) => o === 503).length).toBeGreaterThan(0);
    // The tailer was pushed back, not dropping: no log record was dropped in the pipeline.
    const metrics = await (await fetch(`${self}/metrics`)).text();
    expect(metrics).not.toMatch(/^sextant_pipeline_dropped_total\{[^}]*signal="logs"[^}]*\} [1-9]/m);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  }, 180_000);
});
