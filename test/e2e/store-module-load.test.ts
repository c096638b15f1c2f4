import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/gateway-store.js';
import { BIN } from './helpers/sextant-process.js';

/**
 * DuckDB is the gateway's: a node agent never loads it, nor does a gateway with its store
 * switched off. A module hook given with --import lists every @duckdb module a real process
 * resolves; the gateway with its store on shows the hook is not blind.
 */

const HOOK = `
import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
const out = process.env.SEXTANT_TEST_MODULE_LOG;
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    if (r.url.includes('/@duckdb/')) appendFileSync(out, r.url + '\\n');
    return r;
  },
});
`;

const TOKEN = 'module-load-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'sextant-modload-'));
const hook = path.join(dir, 'hook.mjs');
writeFileSync(hook, HOOK);
const procs: ChildProcess[] = [];

afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], name: string, env: Record<string, string>): { child: ChildProcess; log: string; stderr: () => string; exited: Promise<number | null> } {
  const log = path.join(dir, `${name}.modules`);
  let stderr = '';
  const child = spawn(process.execPath, ['--import', pathToFileURL(hook).href, BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, SEXTANT_TEST_MODULE_LOG: log, SEXTANT_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  procs.push(child);
  return { child, log, stderr: () => stderr, exited: new Promise((r) => child.once('exit', (c) => r(c))) };
}

async function waitFor(what: string, probe: () => boolean, stderr: () => string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const modules = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

describe('who loads DuckDB', () => {
  it('the gateway with its store loads it; the agent exporting to it does not; a gateway with the store off does not', async () => {
    const port = await freePort();
    const gw = run(['gateway'], 'gateway', { SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port}`, SEXTANT_GATEWAY_DATA_DIR: path.join(dir, 'gw'), SEXTANT_GATEWAY_TOKENS: TOKEN });
    await waitFor('the gateway', () => gw.stderr().includes('"msg":"gateway started"'), gw.stderr);
    expect(modules(gw.log)).toContain('/@duckdb/node-api/');

    const agent = run(['agent', '--once'], 'agent', {
      SEXTANT_ENDPOINT: `http://127.0.0.1:${port}`,
      SEXTANT_API_TOKEN: TOKEN,
      SEXTANT_STATE_DIR: path.join(dir, 'state'),
      SEXTANT_CONTAINERS_ENABLED: 'false',
      SEXTANT_LOGS_ENABLED: 'false',
    });
    expect(await agent.exited, agent.stderr()).toBe(0);
    expect(modules(agent.log)).toBe('');

    const port2 = await freePort();
    const off = run(['gateway'], 'gateway-off', { SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port2}`, SEXTANT_GATEWAY_DATA_DIR: path.join(dir, 'gw2'), SEXTANT_GATEWAY_STORE_ENABLED: 'false', SEXTANT_GATEWAY_NDJSON: 'true' });
    await waitFor('the gateway without a store', () => off.stderr().includes('"msg":"gateway started"'), off.stderr);
    const r = await fetch(`http://127.0.0.1:${port2}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}' });
    expect(r.status).toBe(200);
    off.child.kill('SIGTERM');
    expect(await off.exited).toBe(0);
    expect(modules(off.log)).toBe('');

    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  }, 90_000);
});
