import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO, 'dist/cli/sextant.js');

/** Clock ticks per second of /proc/<pid>/stat's utime/stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * One `sextant` process (the built dist/, on the Node running the soak), its stderr (pino JSON)
 * written to `logFile`. `ready(msg)` resolves when a log line with that msg appears.
 */
export class SextantProc {
  constructor(args, { env, logFile, cwd }) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.pid = this.child.pid;
    this.child.stdout.pipe(this.log, { end: false });
    this.child.stderr.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      }),
    );
    this.#watch = '';
    this.child.stderr.setEncoding('utf8').on('data', (d) => {
      // The last 64 KiB only: enough to find a start-up line, bounded however long it runs.
      this.#watch = (this.#watch + d).slice(-65536);
      for (const w of [...this.#waiters]) if (this.#watch.includes(`"msg":"${w.msg}"`)) w.resolve();
    });
  }

  #watch;
  #waiters = [];

  ready(msg, timeoutMs = 30_000) {
    if (this.#watch.includes(`"msg":"${msg}"`)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { msg, resolve: () => done(null) };
      const timer = setTimeout(() => done(new Error(`no "${msg}" within ${timeoutMs} ms`)), timeoutMs);
      const onExit = () => done(new Error(`exited (${JSON.stringify(this.exitInfo)}) before "${msg}"`));
      this.exited.then(onExit);
      const done = (err) => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((x) => x !== w);
        if (err) reject(err);
        else resolve();
      };
      this.#waiters.push(w);
    });
  }

  get alive() {
    return this.exitInfo === undefined;
  }

  async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
    if (!this.alive) return this.exitInfo;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const info = await this.exited;
    clearTimeout(t);
    await new Promise((r) => this.log.end(r));
    return info;
  }
}

/** VmRSS (bytes) and utime+stime (seconds) of a live pid; undefined once it is gone. */
export async function sampleProc(pid) {
  try {
    const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    // Fields after the parenthesised comm (which may hold spaces): state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(rest[11]) + Number(rest[12])) / USER_HZ;
    return { rssBytes: rss ? Number(rss[1]) * 1024 : 0, cpuSeconds: cpu };
  } catch {
    return undefined;
  }
}

/** Parses Prometheus text into `name{labels}` → value (comments skipped). */
export function parsePrometheus(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp < 0) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
  }
  return out;
}

export async function scrape(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    if (!res.ok) return undefined;
    return parsePrometheus(await res.text());
  } catch {
    return undefined;
  }
}
