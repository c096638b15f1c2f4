import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../src/pipeline/spool/segment-format.js';
import { type FaultProxy, startFaultProxy } from '../integration/helpers/fault-proxy.js';
import { startGateway } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';
import { metric, sleep, startWriter, tally, waitStored } from './helpers/spool-run.js';

/**
 * The disk spool under the faults it exists for, with real writers, a real agent and a real
 * gateway: logrotate's copytruncate while the endpoint refuses one request in seven (the
 * tailer must not fall behind: only the lines of the last moments before each cut may be lost),
 * a spool damaged while the agent was down (truncated and bit-flipped segments: cut, counted,
 * never a crash), and a full disk under the spool (a 4 MiB tmpfs: the spool stops taking, the
 * files are the buffer again, nothing is lost once the endpoint is back).
 */

const LINE = 200;
const tmp = mkdtempSync(join(tmpdir(), 'sextant-spool-faults-'));
const procs: SextantProcess[] = [];
const proxies: FaultProxy[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const p of proxies) await p.close();
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

function agentEnv(dir: string, endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SEXTANT_ENDPOINT: endpoint,
    SEXTANT_HOST_ROOT: join(dir, 'host'),
    SEXTANT_STATE_DIR: join(dir, 'state'),
    SEXTANT_LOGS_READ_FROM: 'beginning',
    SEXTANT_CONTAINERS_ENABLED: 'false',
    SEXTANT_PROCESS_ENABLED: 'false',
    SEXTANT_INTERVAL: '1m',
    SEXTANT_LISTEN: '127.0.0.1:0',
    SEXTANT_BATCH_LOGS_LINGER: '200ms',
    SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '1s',
    ...extra,
  };
}

/** A real gateway storing under `dir`, reached through a fault proxy the test drives. */
async function startGatewayBehindProxy(dir: string): Promise<{ proxy: FaultProxy; dataDir: string }> {
  const { gateway, port, dataDir } = await startGateway(dir);
  procs.push(gateway);
  const proxy = await startFaultProxy(`http://127.0.0.1:${port}`);
  proxies.push(proxy);
  return { proxy, dataDir };
}

async function startAgent(dir: string, env: Record<string, string>): Promise<{ agent: SextantProcess; self: string }> {
  const agent = new SextantProcess(['agent'], { cwd: dir, env });
  procs.push(agent);
  const self = String((await agent.waitForLog('agent started', 30_000))['self']);
  return { agent, self };
}

describe('copytruncate while the endpoint refuses one request in seven', () => {
  it('loses only what was written in the last moments before each cut, and counts the cuts', async () => {
    const dir = join(tmp, 'copytruncate');
    mkdirSync(join(dir, 'host/var/log/app'), { recursive: true });
    const { proxy, dataDir } = await startGatewayBehindProxy(dir);
    proxy.setEvery(7, { kind: 'status', status: 503 });
    // The file exists before the agent starts (a glob's new files wait for the rescan interval).
    const file = join(dir, 'host/var/log/app/app.log');
    writeFileSync(file, '');
    const { agent, self } = await startAgent(dir, agentEnv(dir, proxy.url, { SEXTANT_LOGS_GLOBS: '/var/log/app/*.log' }));
    const RATE = 1_000_000;
    const w = startWriter({ WRITER_FILE: file, WRITER_FORMAT: 'plain', WRITER_RATE: String(RATE), WRITER_LINE_BYTES: String(LINE), WRITER_ROTATE: 'copytruncate', WRITER_CUT_MS: '3000' });
    await sleep(25_000);
    const written = await w.stop();
    const got = await waitStored(dataDir, written, 60_000);
    const { missing, duplicates } = tally(got, written);
    const start = w.events.find((e) => 'start' in e) as { start: { t0: number; linesPerSec: number } };
    const cuts = w.events.filter((e) => 'cut' in e).map((e) => (e as { cut: { at: number; copiedUpTo: number; truncatedAt: number } }).cut);
    // Each missing line: how long before the cut that destroyed it was it written?
    const ahead: number[] = [];
    let byLogrotate = 0;
    let unexplained = 0;
    for (const n of missing) {
      const cut = cuts.find((c) => c.truncatedAt > n);
      if (cut === undefined) {
        unexplained++;
        continue;
      }
      if (n >= cut.copiedUpTo) {
        byLogrotate++; // written between logrotate's copy and its truncate: in neither file
        continue;
      }
      ahead.push(cut.at - (start.start.t0 + (n / start.start.linesPerSec) * 1000));
    }
    const worst = ahead.length === 0 ? 0 : Math.max(...ahead);
    const refused = proxy.seen.filter((s) => s.outcome === 503).length;
    const losses = await metric(self, 'sextant_logs_problems_total{kind="copytruncate"}');
    const unreadBytes = await metric(self, 'sextant_logs_copytruncate_unread_bytes_total');
    console.log(
      `copytruncate test: ${written} lines at 1 MB/s, ${cuts.length} cuts, endpoint refused ${refused} of ${proxy.seen.length} requests; ` +
        `${missing.length} missing (${byLogrotate} between logrotate's copy and truncate, ${ahead.length} unread at a cut, written at most ${worst.toFixed(0)} ms before it), ${duplicates} duplicates; ` +
        `${await metric(self, 'sextant_spool_written_batches_total')} batches spooled; the agent counted ${losses} copytruncates and at least ${unreadBytes} bytes (${Math.round(unreadBytes / LINE)} lines) they took unread`,
    );
    if (worst >= 300 || unexplained > 0) {
      const text = await (await fetch(`${self}/metrics`)).text();
      console.log(text.split('\n').filter((l) => /^sextant_(spool_(written|replayed|refused)|pipeline_(offered|dropped)|export_(records|requests)|logs_(problems|records))/.test(l) && !/ 0$/.test(l)).join('\n'));
      const ranges: string[] = [];
      for (let i = 0; i < missing.length; ) {
        let j = i;
        while (j + 1 < missing.length && missing[j + 1] === missing[j]! + 1) j++;
        ranges.push(`${missing[i]}-${missing[j]}`);
        i = j + 1;
      }
      console.log('missing', ranges.join(', '), 'cuts', JSON.stringify(cuts));
    }
    expect(refused).toBeGreaterThan(0);
    expect(cuts.length).toBeGreaterThanOrEqual(6);
    expect(unexplained).toBe(0);
    // ~100 ms is what the tailer lags a writer by (its poll and the directory watch's coalescing);
    // the bound leaves room for a loaded 2-core machine.
    expect(worst).toBeLessThan(300);
    expect(losses).toBeGreaterThanOrEqual(cuts.length - 1);
    // The agent's count of what the cuts took unread is a lower bound of what it did not get.
    expect(unreadBytes / LINE).toBeLessThanOrEqual(missing.length + cuts.length);
    expect(duplicates).toBe(0);
    agent.kill('SIGTERM');
    await agent.exited;
  }, 150_000);
});

describe('a damaged spool', () => {
  it('cuts truncated and bit-flipped segments at their last good record, counts them, and keeps going', async () => {
    const dir = join(tmp, 'corrupt');
    const pods = join(dir, 'host/var/log/pods/spool_corrupt-0_8f3e2d1c-5b4a-4d6e-9f8a-1b2c3d4e5f60/app');
    mkdirSync(pods, { recursive: true });
    const { proxy, dataDir } = await startGatewayBehindProxy(dir);
    await proxy.down();
    // Small segments (1 MiB with a 16 MiB spool) and no compression, so there are several soon.
    const env = agentEnv(dir, proxy.url, { SEXTANT_BUFFER_DISK_MAX_BYTES: '16MiB', SEXTANT_COMPRESSION: 'none' });
    const first = await startAgent(dir, env);
    const w = startWriter({ WRITER_FILE: join(pods, '0.log'), WRITER_RATE: '500000', WRITER_LINE_BYTES: String(LINE), WRITER_ROTATE: 'none' });
    const spool = join(dir, 'state/spool');
    const segments = (): string[] => readdirSync(spool).filter((f) => f.endsWith('.spool')).sort();
    await first.agent.waitFor(() => (segments().length >= 3 ? true : undefined), 60_000, 'three spool segments');
    first.agent.kill('SIGKILL');
    await first.agent.exited;
    const written = await w.stop();
    // The damage: the newest segment torn mid-record, a bit flipped in the middle of another.
    const segs = segments();
    const newest = join(spool, segs.at(-1)!);
    truncateSync(newest, Math.max(SEGMENT_HEADER_BYTES + 10, statSync(newest).size - 7));
    const middle = join(spool, segs[1]!);
    const bytes = readFileSync(middle);
    const at = Math.min(bytes.length - 1, SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES + 500);
    bytes[at]! ^= 0x40;
    writeFileSync(middle, bytes);
    await proxy.up();
    const second = await startAgent(dir, env);
    // The agent runs on: lines written after the restart arrive too.
    let more = '';
    for (let n = written; n < written + 1000; n++) more += `${new Date().toISOString().slice(0, 23)}000000Z stdout F {"msg":"writer","n":${n}}\n`;
    appendFileSync(join(pods, '0.log'), more);
    const got = await waitStored(dataDir, written + 1000, 40_000);
    const { missing, duplicates } = tally(got, written + 1000);
    const torn = await metric(second.self, 'sextant_spool_corrupt_total{reason="torn"}');
    const checksum = await metric(second.self, 'sextant_spool_corrupt_total{reason="checksum"}');
    console.log(`spool damage test: ${written} lines, ${segs.length} segments, damage cut: torn ${torn}, checksum ${checksum}; ${missing.length} lines lost with the damaged records, ${duplicates} duplicates`);
    expect(torn + checksum).toBeGreaterThanOrEqual(2);
    // What the damage cut is lost (its lines were checkpointed as durable); everything else arrives.
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.length).toBeLessThan(written / 2);
    expect(missing.filter((n) => n >= written)).toEqual([]);
    expect(second.agent.child.exitCode).toBeNull();
    second.agent.kill('SIGTERM');
    expect((await second.agent.exited).code).toBe(0);
  }, 150_000);
});

/** A 4 MiB tmpfs for the state directory, or undefined where mounting is not allowed (not root). */
function smallDisk(path: string): string | undefined {
  mkdirSync(path, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', path], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounts.push(path);
  return path;
}

describe('a full disk under the spool', () => {
  const state = smallDisk(join(tmp, 'full/state'));
  it.skipIf(state === undefined)('stops taking when the disk is full, never stops the agent, and loses nothing once the endpoint is back', async () => {
    const dir = join(tmp, 'full');
    const pods = join(dir, 'host/var/log/pods/spool_full-0_9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/app');
    mkdirSync(pods, { recursive: true });
    const { proxy, dataDir } = await startGatewayBehindProxy(dir);
    await proxy.down();
    // The spool may take 256 MiB, the disk has 4: the disk fills first. No compression, so it fills fast.
    const { agent, self } = await startAgent(dir, agentEnv(dir, proxy.url, { SEXTANT_COMPRESSION: 'none' }));
    const w = startWriter({ WRITER_FILE: join(pods, '0.log'), WRITER_RATE: '500000', WRITER_LINE_BYTES: String(LINE), WRITER_ROTATE: 'none' });
    await agent.waitFor(() => (/code=?"ENOSPC"|ENOSPC/.test(agent.stderr) ? true : undefined), 60_000, 'the spool to hit the full disk');
    await sleep(3_000);
    const errors = await metric(self, 'sextant_spool_write_errors_total');
    await proxy.up();
    await sleep(5_000);
    const written = await w.stop();
    const got = await waitStored(dataDir, written, 90_000);
    const { missing, duplicates } = tally(got, written);
    // Once everything is delivered the spool empties (its segments deleted) and the disk has room again.
    const emptied = Date.now() + 30_000;
    while ((await metric(self, 'sextant_spool_batches')) > 0 && Date.now() < emptied) await sleep(500);
    const left = await metric(self, 'sextant_spool_bytes');
    console.log(`full disk test: ${written} lines, ${errors} spool write errors (ENOSPC) while full, ${missing.length} missing, ${duplicates} duplicates; spool holds ${left} bytes, ${await metric(self, 'sextant_spool_batches')} batches after; files in it: ${readdirSync(join(state!, 'spool')).join(' ')}`);
    expect(errors).toBeGreaterThan(0);
    expect(missing.slice(0, 10)).toEqual([]);
    // Delivered segments are deleted, a failed state-file write leaves no temp file: the disk has room again.
    expect(left).toBe(0);
    expect(readdirSync(join(state!, 'spool'))).toEqual(['cursor.json']);
    expect(agent.child.exitCode).toBeNull();
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  }, 200_000);
});
