import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { SextantProcess } from './sextant-process.js';

/**
 * What a real `sextant gateway` stored with SEXTANT_GATEWAY_NDJSON=true: its NDJSON files under `<dataDir>/<signal>/`, one
 * `{receivedAt, request}` per line with the request in OTLP/JSON. The e2e tests read their
 * evidence from here, as a user would.
 */
export function storedRequests(dataDir: string, signal: 'logs' | 'metrics'): Record<string, unknown>[] {
  const dir = join(dataDir, signal);
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const f of files) {
    // The gateway may be appending to the file: a line is whole once its newline is written, so
    // the text after the last newline is left for the next read. A whole line that is not JSON
    // still throws.
    const lines = readFileSync(join(dir, f), 'utf8').split('\n');
    lines.pop();
    for (const line of lines) if (line) out.push(JSON.parse(line).request as Record<string, unknown>);
  }
  return out;
}

interface StoredLogs {
  resourceLogs?: { scopeLogs: { logRecords: { body?: { stringValue?: string } }[] }[] }[];
}

/** The `"n":<number>` of every stored log record's body, repeats included (the numbered-line tests). */
export function storedLogNumbers(dataDir: string): number[] {
  const out: number[] = [];
  for (const req of storedRequests(dataDir, 'logs') as StoredLogs[]) {
    for (const rl of req.resourceLogs ?? []) {
      for (const sl of rl.scopeLogs) {
        for (const r of sl.logRecords) {
          const m = /"n":(\d+)/.exec(r.body?.stringValue ?? '');
          if (m) out.push(Number(m[1]));
        }
      }
    }
  }
  return out;
}

/** A loopback port free right now (for a process that must be told its port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A real `sextant gateway` on a free loopback port, storing under `<cwd>/gw`, listening when this resolves. */
export async function startGateway(cwd: string): Promise<{ gateway: SextantProcess; port: number; dataDir: string }> {
  const port = await freePort();
  const dataDir = join(cwd, 'gw');
  // NDJSON is what these tests read (off by default since the embedded store).
  const gateway = new SextantProcess(['gateway'], { cwd, env: { SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port}`, SEXTANT_GATEWAY_DATA_DIR: dataDir, SEXTANT_GATEWAY_NDJSON: 'true', SEXTANT_LISTEN: '127.0.0.1:0' } });
  try {
    await gateway.waitForLog('gateway listening');
  } catch (err) {
    gateway.kill('SIGKILL');
    throw err;
  }
  return { gateway, port, dataDir };
}
