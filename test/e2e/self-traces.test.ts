import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/gateway-store.js';
import { BIN } from './helpers/sextant-process.js';
import { until } from '../helpers/wait.js';

/**
 * Self-traces end to end: a real agent with SEXTANT_SELF_TRACES_ENDPOINT sends its spans over
 * OTLP/gRPC to a real `sextant gateway`, whose store must then hold cycle spans with per-source
 * children and export spans with their attributes. And the other half of the promise: with the
 * variable unset, not one @opentelemetry module is resolved in the agent process (a module hook
 * given with --import lists every one that is). SEXTANT_TEST_BIN points at another build.
 */

const bin = process.env['SEXTANT_TEST_BIN'] ?? BIN;
const TOKEN = 'selftraces-e2e-token-0123456789';

const HOOK = `
import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
const out = process.env.SEXTANT_TEST_MODULE_LOG;
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    if (r.url.includes('/@opentelemetry/')) appendFileSync(out, r.url + '\\n');
    return r;
  },
});
`;

interface Proc {
  readonly child: ChildProcess;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

function run(args: string[], cwd: string, env: Record<string, string>, nodeArgs: string[] = []): Proc {
  let stderr = '';
  const child = spawn(process.execPath, [...nodeArgs, bin, ...args], { cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { child, stderr: () => stderr, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** Waits for `probe`; fails at once, with its stderr, when `p` exits first. */
function waitFor<T>(what: string, probe: () => T | undefined | false, p?: Proc, ms = 30_000): Promise<T> {
  return until(
    what,
    () => {
      const v = probe();
      if (v === undefined || v === false) {
        if (p !== undefined && p.child.exitCode !== null) throw new Error(`process exited while waiting for ${what}:\n${p.stderr()}`);
      }
      return v;
    },
    { timeoutMs: ms, everyMs: 200, detail: () => p?.stderr() ?? '' },
  );
}

async function stop(p: Proc | undefined): Promise<number | null | undefined> {
  if (p === undefined) return undefined;
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  return p.exited;
}

interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string; boolValue?: boolean } }[];
}

function storedSpans(dataDir: string): StoredSpan[] {
  const dir = path.join(dataDir, 'traces');
  if (!existsSync(dir)) return [];
  const out: StoredSpan[] = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const req = JSON.parse(line).request as { resourceSpans?: { scopeSpans?: { spans?: StoredSpan[] }[] }[] };
      for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) out.push(...(ss.spans ?? []));
    }
  }
  return out;
}

function attr(s: StoredSpan, key: string): string | boolean | undefined {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.intValue ?? v?.boolValue;
}

describe('self-traces', () => {
  let dir: string;
  let hook: string;
  const procs: Proc[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sextant-selftraces-'));
    hook = path.join(dir, 'module-hook.mjs');
    writeFileSync(hook, HOOK);
  });

  afterAll(async () => {
    await Promise.all(procs.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  const agentEnv = (cwd: string, extra: Record<string, string>): Record<string, string> => ({
    SEXTANT_LISTEN: '127.0.0.1:0',
    SEXTANT_INTERVAL: '1s',
    SEXTANT_CONTAINERS_ENABLED: 'false',
    SEXTANT_LOGS_ENABLED: 'false',
    SEXTANT_SUMMARY_INTERVAL: '0',
    SEXTANT_STATE_DIR: path.join(cwd, 'state'),
    ...extra,
  });

  it('off by default: the agent loads no @opentelemetry module', async () => {
    const cwd = mkdtempSync(path.join(dir, 'off-'));
    const log = path.join(cwd, 'modules.txt');
    const agent = run(['agent', '--local'], cwd, agentEnv(cwd, { SEXTANT_GATEWAY_LISTEN: '127.0.0.1:0', SEXTANT_TEST_MODULE_LOG: log }), ['--import', pathToFileURL(hook).href]);
    procs.push(agent);
    await waitFor('an export', () => agent.stderr().includes('"msg":"agent started"'), agent);
    // Two cycles and their exports: everything that would trace has run.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await stop(agent)).toBe(0);
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
  }, 90_000);

  it('on: cycle spans with per-source children and export spans land in the gateway over OTLP/gRPC', async () => {
    const cwd = mkdtempSync(path.join(dir, 'on-'));
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const dataDir = path.join(cwd, 'gw');
    const gateway = run(['gateway'], cwd, {
      SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${httpPort}`,
      SEXTANT_GATEWAY_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
      SEXTANT_GATEWAY_DATA_DIR: dataDir,
      SEXTANT_GATEWAY_NDJSON: 'true',
      SEXTANT_GATEWAY_TOKENS: TOKEN,
      SEXTANT_LISTEN: '127.0.0.1:0',
    });
    procs.push(gateway);
    await waitFor('the gRPC listener', () => gateway.stderr().includes('"msg":"gateway gRPC listening"'), gateway);

    const log = path.join(cwd, 'modules.txt');
    const agent = run(
      ['agent'],
      cwd,
      agentEnv(cwd, {
        SEXTANT_ENDPOINT: `http://127.0.0.1:${httpPort}`,
        SEXTANT_API_TOKEN: TOKEN,
        SEXTANT_SELF_TRACES_ENDPOINT: `http://127.0.0.1:${grpcPort}`,
        SEXTANT_TEST_MODULE_LOG: log,
      }),
      ['--import', pathToFileURL(hook).href],
    );
    procs.push(agent);

    const found = await waitFor(
      'a cycle trace with source children and an export span',
      () => {
        const spans = storedSpans(dataDir);
        const cycles = spans.filter((s) => s.name === 'sextant.collect');
        for (const c of cycles) {
          const children = spans.filter((s) => s.parentSpanId === c.spanId && s.traceId === c.traceId);
          // At a 1 s interval a loaded machine may still run a source's previous collect when the
          // next cycle starts: that child is marked skipped and counts nothing. Take a cycle in
          // which every source collected.
          if (children.some((s) => attr(s, 'sextant.skipped') === true)) continue;
          const exp = spans.find((s) => s.name === 'sextant.export metrics' && attr(s, 'sextant.export.result') === 'success');
          if (children.length >= 2 && exp) return { cycle: c, children, exp };
        }
        return undefined;
      },
      agent,
    );
    expect(found.children.map((s) => attr(s, 'sextant.source')).sort()).toEqual(['host', 'process']);
    expect(found.children.map((s) => s.name).sort()).toEqual(['sextant.collect host', 'sextant.collect process']);
    for (const c of found.children) expect(Number(attr(c, 'sextant.records'))).toBeGreaterThan(0);
    expect(Number(attr(found.cycle, 'sextant.cycle'))).toBeGreaterThanOrEqual(1);
    expect(attr(found.exp, 'sextant.signal')).toBe('metrics');
    expect(Number(attr(found.exp, 'sextant.export.attempts'))).toBe(1);
    expect(Number(attr(found.exp, 'sextant.export.bytes'))).toBeGreaterThan(0);
    expect(attr(found.exp, 'http.response.status_code')).toBe('200');

    expect(await stop(agent)).toBe(0);
    // The positive control of the test above: with the endpoint set, the SDK was loaded.
    expect(readFileSync(log, 'utf8')).toContain('/@opentelemetry/sdk-node/');
    // The token reached no log line of either process.
    expect(agent.stderr()).not.toContain(TOKEN);
    expect(gateway.stderr()).not.toContain(TOKEN);
    expect(await stop(gateway)).toBe(0);
  }, 90_000);
});
