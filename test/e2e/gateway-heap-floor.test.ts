import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayHeapFloorMiB } from '../../src/self/gateway-heap.js';
import { ProcessMemory } from '../../src/self/process-memory.js';
import { SextantProcess } from './helpers/sextant-process.js';

/**
 * `sextant gateway` started the way the image and the systemd unit start it (Node on
 * dist/cli/sextant.js, no launcher) restarts itself once with V8's old-space floor
 * (src/self/gateway-heap.ts): the same PID, the flag on its command line, what it was started
 * with kept when the configuration is silent, and a bad value refused naming the key.
 */

const dirs: string[] = [];
const running: SextantProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function gatewayEnv(extra: Record<string, string> = {}): Promise<{ cwd: string; env: Record<string, string> }> {
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'sextant-heapfloor-'));
  dirs.push(cwd);
  return {
    cwd,
    env: {
      SEXTANT_GATEWAY_LISTEN: '127.0.0.1:0',
      SEXTANT_GATEWAY_DATA_DIR: path.join(cwd, 'data'),
      SEXTANT_GATEWAY_TOKENS: 'dt0c01.HEAPFLOOR.abcdefghijklmnopqrstuvwxyz0123456789',
      SEXTANT_GATEWAY_STORE_ENABLED: 'false',
      SEXTANT_LISTEN: '127.0.0.1:0',
      ...extra,
    },
  };
}

/** Node's own flags of a running process (between the executable and the script). */
function nodeFlags(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return argv.slice(1, argv.findIndex((a) => a.endsWith('dist/cli/sextant.js')));
}

async function started(p: SextantProcess): Promise<Record<string, unknown>> {
  running.push(p);
  return p.waitFor(() => p.logs().find((l) => l['msg'] === 'gateway started'), 30_000, 'gateway started');
}

describe('the gateway runs with V8 old-space floor', () => {
  it('started without it: restarts itself once with the floor from its memory limit, same PID', async () => {
    const { cwd, env } = await gatewayEnv();
    const p = new SextantProcess(['gateway'], { cwd, env });
    const line = await started(p);
    expect(line['pid']).toBe(p.child.pid);
    const want = gatewayHeapFloorMiB(0, new ProcessMemory().limit());
    expect(nodeFlags(p.child.pid!)).toEqual([`--initial-old-space-size=${want}`]);
    expect(p.stderr).not.toContain('cannot apply');
  }, 40_000);

  it('gateway.heapFloor sets it, replacing a floor Node was started with', async () => {
    const { cwd, env } = await gatewayEnv({ SEXTANT_GATEWAY_HEAP_FLOOR: '64MiB' });
    const p = new SextantProcess(['gateway'], { cwd, env, nodeFlags: ['--initial-old-space-size=100', '--stack-trace-limit=20'] });
    await started(p);
    expect(nodeFlags(p.child.pid!)).toEqual(['--initial-old-space-size=64', '--stack-trace-limit=20']);
  }, 40_000);

  it('a floor Node was started with is kept when the configuration is silent (no restart)', async () => {
    const { cwd, env } = await gatewayEnv();
    const p = new SextantProcess(['gateway'], { cwd, env, nodeFlags: ['--initial-old-space-size=100'] });
    await started(p);
    expect(nodeFlags(p.child.pid!)).toEqual(['--initial-old-space-size=100']);
  }, 40_000);

  it('a bad value exits 2 naming the key', async () => {
    const { cwd, env } = await gatewayEnv({ SEXTANT_GATEWAY_HEAP_FLOOR: 'lots' });
    const p = new SextantProcess(['gateway'], { cwd, env });
    running.push(p);
    const { code } = await p.exited;
    expect(code).toBe(2);
    expect(p.stderr).toContain('gateway.heapFloor');
    expect(p.stderr).toContain('SEXTANT_GATEWAY_HEAP_FLOOR');
  }, 40_000);
});

