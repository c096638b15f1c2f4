import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentMemoryCgroup } from '../../helpers/memory-cgroup.js';
import { storedLogNumbers } from './gateway-store.js';

/** What the spool e2e tests share: the writer process, memory sampling, counting what arrived. */

const WRITER = resolve(fileURLToPath(new URL('./kubelet-log-writer.mjs', import.meta.url)));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface MemoryPeaks {
  rss: number;
  anon: number;
  workingSet: number;
}

/** Samples a process's VmRSS and RssAnon (and its cgroup's working set) every 500 ms. */
export function sampleMemory(pid: () => number | undefined, cgroup: AgentMemoryCgroup | undefined): { peaks: MemoryPeaks; stop(): void } {
  const peaks: MemoryPeaks = { rss: 0, anon: 0, workingSet: 0 };
  const timer = setInterval(() => {
    const p = pid();
    if (p === undefined) return;
    try {
      const s = readFileSync(`/proc/${p}/status`, 'latin1');
      const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
      peaks.rss = Math.max(peaks.rss, kb('VmRSS'));
      peaks.anon = Math.max(peaks.anon, kb('RssAnon'));
    } catch {
      // between a kill and the restart
    }
    if (cgroup !== undefined) peaks.workingSet = Math.max(peaks.workingSet, cgroup.sample());
  }, 500);
  return { peaks, stop: () => clearInterval(timer) };
}

/** A writer child process; resolves its final line count when stopped. */
export function startWriter(env: Record<string, string>): { child: ChildProcess; events: Record<string, unknown>[]; stop(): Promise<number> } {
  const child = spawn(process.execPath, [WRITER], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      events.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    events,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      const done = events.find((e) => 'done' in e) as { done: { written: number } } | undefined;
      if (done === undefined) throw new Error('the writer did not report its count');
      return done.done.written;
    },
  };
}

/** Waits until the gateway stored every number below `count` (or the deadline); returns what it stored. */
export async function waitStored(dataDir: string, count: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = storedLogNumbers(dataDir);
    if (new Set(got).size >= count || Date.now() > deadline) return got;
    await sleep(1000);
  }
}

export function tally(got: readonly number[], count: number): { missing: number[]; duplicates: number } {
  const seen = new Set<number>();
  let duplicates = 0;
  for (const n of got) {
    if (seen.has(n)) duplicates++;
    else seen.add(n);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  return { missing, duplicates };
}

/** The sum of every sample of `name` (a prefix: labels may follow) on the agent's /metrics. */
export async function metric(self: string, name: string): Promise<number> {
  const text = await (await fetch(`${self}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

