import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createResource, createScope, nowUnixNano, type AckTarget, type LogRecord } from '../../../src/model/index.js';
import type { RecordSink } from '../../../src/sources/types.js';

const RESOURCE = createResource({ 'service.name': 'sextant-itest', 'host.name': 'itest' });
const SCOPE = createScope('sextant/itest', '0');
const ATTRS = Object.freeze({ 'log.iostream': 'stdout' });

/**
 * A producer of numbered log lines that behaves like the log tailer will: it stops when the
 * pipeline refuses a record and resumes on drain, and it learns through acks which lines the
 * endpoint accepted. `acked` / `nacked` are what the at-least-once assertions are made against.
 */
export class NumberedLogs implements AckTarget {
  readonly acked = new Set<number>();
  readonly nacked = new Set<number>();
  settledTwice = 0;
  #next = 0;
  #waiting: (() => void) | undefined;

  constructor(
    readonly count: number,
    readonly padTo = 0,
  ) {}

  settle(token: number, ok: boolean): void {
    if (this.acked.has(token) || this.nacked.has(token)) this.settledTwice++;
    (ok ? this.acked : this.nacked).add(token);
  }

  get settled(): number {
    return this.acked.size + this.nacked.size;
  }

  get offered(): number {
    return this.#next;
  }

  record(n: number): LogRecord {
    const body = `line ${n}`.padEnd(this.padTo, '.');
    const now = nowUnixNano();
    return { resource: RESOURCE, scope: SCOPE, timeUnixNano: now, observedTimeUnixNano: now, severityNumber: 9, severityText: 'INFO', body, attributes: ATTRS, eventName: '', ack: this, ackToken: n };
  }

  /** Offers every line, pausing on refusal until the pipeline drains. */
  async run(sink: RecordSink): Promise<void> {
    sink.onLogsDrain(() => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.();
    });
    while (this.#next < this.count) {
      if (sink.offerLog(this.record(this.#next))) {
        this.#next++;
        // Yield now and then so the exporter runs while we produce, as a real tailer would.
        if (this.#next % 500 === 0) await new Promise((r) => setImmediate(r));
      } else {
        await new Promise<void>((r) => (this.#waiting = r));
      }
    }
  }
}

/** Every log body the gateway stored, in the order stored (duplicates kept). */
export async function storedLogBodies(dataDir: string): Promise<string[]> {
  const dir = path.join(dataDir, 'logs');
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson')).sort();
  } catch {
    return [];
  }
  const bodies: string[] = [];
  for (const f of files) {
    for (const line of (await readFile(path.join(dir, f), 'utf8')).split('\n')) {
      if (!line) continue;
      const req = JSON.parse(line).request as { resourceLogs?: { scopeLogs?: { logRecords?: { body?: { stringValue?: string } }[] }[] }[] };
      for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) for (const lr of sl.logRecords ?? []) bodies.push(lr.body?.stringValue ?? '');
    }
  }
  return bodies;
}

export function lineNumber(body: string): number {
  const m = /^line (\d+)/.exec(body);
  return m ? Number(m[1]) : -1;
}
