import { createReadStream } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';

/**
 * Reads what the real `sextant gateway` stored: NDJSON under `<dataDir>/<signal>/`, one
 * `{"receivedAt":ISO,"request":<OTLP/JSON>}` per line (src/gateway/ndjson-store.ts). The logs
 * directory is read incrementally while the soak runs (new bytes of each file, up to the last
 * complete line), so the runner can chart throughput and wait for catch-up without re-reading.
 *
 * Soak log lines have the body `soak <tag> <n> <padding>`: counts per (tag, n) are kept in a
 * growable Uint16Array per tag, so 10 minutes at 500 lines/s stays a few MB.
 */

const SOAK_LINE = /^soak (\S+) (\d+)/;

function attr(attrs, key) {
  if (!attrs) return undefined;
  for (const a of attrs) if (a.key === key) return Object.values(a.value ?? {})[0];
  return undefined;
}

export class TagCounts {
  counts = new Uint16Array(1024);
  max = -1;

  add(n) {
    if (n >= this.counts.length) {
      let size = this.counts.length;
      while (size <= n) size *= 2;
      const next = new Uint16Array(size);
      next.set(this.counts);
      this.counts = next;
    }
    if (this.counts[n] < 65535) this.counts[n]++;
    if (n > this.max) this.max = n;
  }

  get(n) {
    return n < this.counts.length ? this.counts[n] : 0;
  }
}

export class StoreReader {
  #dir;
  #offsets = new Map();
  #partial = new Map();
  /** tag → TagCounts */
  tags = new Map();
  /** `${eventName} ${container.id}` → count */
  events = new Map();
  /** second (epoch s of receivedAt) → soak lines stored that second */
  perSecond = new Map();
  records = 0;
  otherRecords = 0;
  malformed = 0;

  constructor(dataDir) {
    this.#dir = dataDir;
  }

  tag(t) {
    let c = this.tags.get(t);
    if (c === undefined) this.tags.set(t, (c = new TagCounts()));
    return c;
  }

  /** Reads what was appended to the logs files since the last call. */
  async poll() {
    const dir = path.join(this.#dir, 'logs');
    let files;
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson')).sort();
    } catch {
      return;
    }
    for (const f of files) {
      const file = path.join(dir, f);
      const fh = await open(file, 'r');
      try {
        const size = (await fh.stat()).size;
        let off = this.#offsets.get(file) ?? 0;
        // Bounded reads: at most 8 MiB per file per poll, the rest next poll.
        while (off < size) {
          const len = Math.min(size - off, 8 * 1024 * 1024);
          const buf = Buffer.alloc(len);
          const { bytesRead } = await fh.read(buf, 0, len, off);
          if (bytesRead === 0) break;
          off += bytesRead;
          const text = (this.#partial.get(file) ?? '') + buf.toString('utf8', 0, bytesRead);
          const cut = text.lastIndexOf('\n');
          this.#partial.set(file, text.slice(cut + 1));
          if (cut >= 0) for (const line of text.slice(0, cut).split('\n')) if (line) this.#logsLine(line);
          if (len === 8 * 1024 * 1024) break;
        }
        this.#offsets.set(file, off);
      } finally {
        await fh.close();
      }
    }
  }

  #logsLine(line) {
    let doc;
    try {
      doc = JSON.parse(line);
    } catch {
      this.malformed++;
      return;
    }
    const sec = Math.floor(Date.parse(doc.receivedAt) / 1000);
    let soak = 0;
    for (const rl of doc.request?.resourceLogs ?? []) {
      const cid = attr(rl.resource?.attributes, 'container.id');
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          this.records++;
          if (r.eventName) {
            const key = `${r.eventName} ${cid ?? ''}`;
            this.events.set(key, (this.events.get(key) ?? 0) + 1);
            continue;
          }
          const m = SOAK_LINE.exec(r.body?.stringValue ?? '');
          if (m === null) {
            this.otherRecords++;
            continue;
          }
          this.tag(m[1]).add(Number(m[2]));
          soak++;
        }
      }
    }
    if (soak > 0) this.perSecond.set(sec, (this.perSecond.get(sec) ?? 0) + soak);
  }
}

/**
 * Scans every stored metrics request once (streamed line by line) and returns, per container.id,
 * the set of metric names stored with it, for the ids asked about.
 */
export async function containerMetrics(dataDir, ids) {
  const out = new Map();
  for (const id of ids) out.set(id, new Set());
  const dir = path.join(dataDir, 'metrics');
  let files = [];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson')).sort();
  } catch {
    return out;
  }
  for (const f of files) {
    const rl = readline.createInterface({ input: createReadStream(path.join(dir, f), 'utf8'), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line) continue;
      let doc;
      try {
        doc = JSON.parse(line);
      } catch {
        continue;
      }
      for (const rm of doc.request?.resourceMetrics ?? []) {
        const names = out.get(attr(rm.resource?.attributes, 'container.id'));
        if (names === undefined) continue;
        for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) names.add(m.name);
      }
    }
  }
  return out;
}
