import { appendFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, storedLogNumbers } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';
import { until } from '../helpers/wait.js';

/**
 * At least once across crashes: a real `sextant gateway`, a real `sextant agent` tailing a
 * kubelet-style CRI file that a writer appends to and rotates by rename, and the agent killed
 * with SIGKILL ten times during the run and started again. Every line must reach the gateway's
 * store; duplicates are counted and bounded.
 */

const UID = '0b7d1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4';
const LINES = 30_000;
/** Lines per second the writer appends. */
const RATE = 1_000;
const KILLS = 10;
const ROTATE_EVERY = 6_000;

function line(i: number): string {
  const ns = String(i).padStart(9, '0');
  return `2026-11-25T11:00:00.${ns}Z stdout F {"msg":"crash test","n":${i}}\n`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('sextant agent tailing logs, killed with SIGKILL 10 times', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sextant-crash-'));
  const procs: SextantProcess[] = [];
  afterAll(async () => {
    for (const p of procs) {
      p.kill('SIGKILL');
      await p.exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loses no line; duplicates stay within what the checkpoint interval bounds', async () => {
    const dir = join(tmp, `host/var/log/pods/crash_writer-0_${UID}/app`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, '0.log');
    writeFileSync(file, '');
    const { gateway, port: gwPort, dataDir: gwData } = await startGateway(tmp);
    procs.push(gateway);
    const env = {
      SEXTANT_ENDPOINT: `http://127.0.0.1:${gwPort}`,
      SEXTANT_HOST_ROOT: join(tmp, 'host'),
      SEXTANT_STATE_DIR: join(tmp, 'state'),
      // readFrom stays at its default (end): the file is empty at the first start, and every
      // restart must resume from the checkpoints, not from the end (a bug the soak run found).
      SEXTANT_CONTAINERS_ENABLED: 'false',
      SEXTANT_INTERVAL: '1m',
      SEXTANT_LISTEN: '127.0.0.1:0',
      SEXTANT_LOG_LEVEL: 'warn',
      SEXTANT_BATCH_LOGS_LINGER: '200ms',
    };
    const startAgent = (): SextantProcess => {
      const a = new SextantProcess(['agent'], { cwd: tmp, env });
      procs.push(a);
      return a;
    };

    // The first agent scans (the file is empty, so readFrom end skips nothing) and writes its
    // checkpoints before the writer starts: every later start is a restart.
    let agent = startAgent();
    await agent.waitFor(() => (existsSync(join(tmp, 'state', 'checkpoints.json')) ? true : undefined), 20_000, 'the first checkpoint file');

    // The writer: RATE lines/s, rotated by rename (kubelet's names) every ROTATE_EVERY lines.
    let written = 0;
    let rotations = 0;
    const writing = (async () => {
      while (written < LINES) {
        let chunk = '';
        for (let k = 0; k < RATE / 50 && written < LINES; k++) chunk += line(written++);
        appendFileSync(file, chunk);
        if (written % ROTATE_EVERY === 0 && written < LINES) {
          renameSync(file, `${file}.20261125-11000${rotations++}`);
          writeFileSync(file, '');
        }
        await sleep(20);
      }
    })();

    // Each agent lives 2–3.5 s (about 0.7 s of it starting): past a few checkpoint writes.
    for (let k = 0; k < KILLS; k++) {
      await sleep(2_000 + Math.floor(Math.random() * 1_500));
      agent.kill('SIGKILL');
      await agent.exited;
      agent = startAgent();
    }
    await writing;
    // While the store grows; short of every line when it stops, the tally below says what is missing.
    let got: number[] = [];
    await until('every line stored', () => new Set((got = storedLogNumbers(gwData))).size >= LINES, {
      timeoutMs: 20_000,
      everyMs: 250,
      progress: () => got.length,
    }).catch(() => undefined);
    agent.kill('SIGTERM');
    await agent.exited;

    const unique = new Set(got);
    const missing: number[] = [];
    for (let i = 0; i < LINES; i++) if (!unique.has(i)) missing.push(i);
    const duplicates = got.length - unique.size;
    console.log(`logs crash test: ${LINES} lines, ${rotations} rotations, ${KILLS} SIGKILLs: ${missing.length} missing, ${duplicates} duplicates (${(duplicates / KILLS).toFixed(0)} per kill)${missing.length > 0 ? `; missing ranges ${ranges(missing)}` : ""}`);
    expect(missing.slice(0, 10)).toEqual([]);
    // A kill repeats what was read but not yet checkpointed: one checkpoint interval (1 s) plus
    // the batches in flight (linger 200 ms, export), at the writer's rate once caught up.
    expect(duplicates / KILLS).toBeLessThan(3 * RATE);
  }, 150_000);
});

/** `3-7, 12, 40-41`: missing numbers as ranges, for the failure message. */
function ranges(ns: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length; ) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    out.push(i === j ? `${ns[i]}` : `${ns[i]}-${ns[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}
