import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/sextant-process.js';

/**
 * undici's HTTP parser (llhttp, WebAssembly) stays in V8's baseline tier once the agent's HTTP
 * client is loaded (src/io/http-client.ts): TurboFan's compile of its parser function held
 * 21.8 MiB for a few milliseconds, the peak RSS of a log backlog. A low tiering budget makes V8
 * tier up after a few answers, so without the flags TurboFan would show within this test.
 */

const HTTP_CLIENT = pathToFileURL(path.join(path.dirname(BIN), '../io/http-client.js')).href;

const SCRIPT = `
import http from 'node:http';
const { undiciPool } = await import(${JSON.stringify(HTTP_CLIENT)});
const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const Pool = undiciPool();
const pool = new Pool('http://127.0.0.1:' + server.address().port);
for (let i = 0; i < 200; i++) {
  const r = await pool.request({ path: '/', method: 'POST', body: 'x'.repeat(1024) });
  await r.body.text();
}
await pool.close();
server.close();
console.log('requests done');
`;

function run(flags: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out.slice(-2000)}`))));
  });
}

describe("undici's llhttp under the agent's HTTP client", () => {
  it('is compiled by Liftoff and never tiered up to TurboFan', async () => {
    const out = await run(['--trace-wasm-compilation-times', '--wasm-tiering-budget=1000']);
    expect(out).toContain('requests done');
    expect(out).toMatch(/Compiled function .* using Liftoff/);
    expect(out).not.toMatch(/Compiled function .* using TurboFan/);
  });
});
