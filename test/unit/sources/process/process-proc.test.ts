import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource, type MetricPoint } from '../../../../src/model/index.js';
import { JsProcReader } from '../../../../src/native/fallback.js';
import { loadProcReader, pageSize, clockTicks } from '../../../../src/native/index.js';
import type { ProcReader } from '../../../../src/native/types.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { processSourceConfig } from '../../../../src/sources/process/config.js';
import { ProcessSource } from '../../../../src/sources/process/process-source.js';
import { ArraySink, TreeReader } from './process-test-readers.js';
import { presentOrSkip } from '../../../helpers/ci-gate.js';

/*
 * The process source over real files: a /proc-shaped tree made from the captured hosts plus
 * the classic traps, read by our own test reader and by the real readers of src/native/ (the
 * pure-TS fallback, and the addon when it is built); and over this machine's live /proc.
 */

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/hosts');
const HOST = createResource({ 'host.name': 't' });
const BOOT = 1_763_966_000_000_000_000n;
const PAGE = 4096;
const ID = 'e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';
const CRIO_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const KEY = 'sextant.process_group.key';

const native = loadProcReader({ native: true, logger: silentLogger() });
const READERS: [string, () => ProcReader][] = [
  ['test reader', () => new TreeReader()],
  ['fallback', () => new JsProcReader()],
];
if (presentOrSkip(native.implementation === 'native', 'the native addon', 'npm ci builds it (g++, make, python3)')) READERS.push(['addon', () => loadProcReader({ native: true, logger: silentLogger() })]);

function statLine(pid: number, comm: string, o: { state?: string; ppid?: number; utime?: number; stime?: number; start?: number; vsize?: number; rss?: number; threads?: number; minflt?: number; majflt?: number } = {}): string {
  const f = [o.state ?? 'S', o.ppid ?? 1, pid, pid, 0, -1, 4194304, o.minflt ?? 0, 0, o.majflt ?? 0, 0, o.utime ?? 0, o.stime ?? 0, 0, 0, 20, 0, o.threads ?? 1, 0, o.start ?? 100, o.vsize ?? 0, o.rss ?? 0];
  return `${pid} (${comm}) ${f.join(' ')} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

async function proc(root: string, pid: number, files: Record<string, string>, exe?: string): Promise<void> {
  const dir = path.join(root, 'proc', String(pid));
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  if (exe !== undefined) await symlink(exe, path.join(dir, 'exe'));
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sextant-process-'));
  await mkdir(path.join(root, 'etc'));
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  // The captured processes as they are: a shell on the cgroup v2 GPU host, a container's init
  // on the hybrid-cgroup VM.
  await cp(path.join(FIXTURES, 'h100-cgroup2/proc/shell-pid'), path.join(root, 'proc/399'), { recursive: true });
  await symlink('/usr/bin/bash', path.join(root, 'proc/399/exe'));
  await mkdir(path.join(root, 'proc/399/fd'));
  for (const fd of ['0', '1', '2']) await symlink('/dev/null', path.join(root, 'proc/399/fd', fd));
  await cp(path.join(FIXTURES, 'vm-hybrid-docker/proc/container-init'), path.join(root, 'proc/4342'), { recursive: true });
  await symlink('/bin/busybox', path.join(root, 'proc/4342/exe'));
  const status = (uid: number, name: string) => `Name:\t${name}\nState:\tS (sleeping)\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`;
  // Kernel threads: no cmdline, no exe.
  await proc(root, 2, { stat: statLine(2, 'kthreadd', { ppid: 0, start: 1 }), cmdline: '', status: status(0, 'kthreadd'), cgroup: '0::/\n' });
  await proc(root, 77, { stat: statLine(77, 'kworker/0:1-events', { state: 'I', ppid: 2, utime: 3, start: 5 }), cmdline: '', status: status(0, 'kworker/0:1-events'), cgroup: '0::/\n' });
  // A comm with spaces and parentheses (stat splits at the LAST ')'), in a CRI-O container.
  await proc(
    root,
    500,
    {
      stat: statLine(500, 'my (weird) proc', { utime: 1234, stime: 56, start: 9000, vsize: 123_456_789, rss: 2500, threads: 7, minflt: 42, majflt: 2 }),
      cmdline: './my (weird) proc\0--flag\0',
      status: status(1000, 'my (weird) proc'),
      cgroup: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/crio-${CRIO_ID}.scope\n`,
      io: 'rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 8192\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n',
    },
    '/opt/weird/bin/my (weird) proc',
  );
  // A zombie: no cmdline, no exe, no memory.
  await proc(root, 501, { stat: statLine(501, 'defunct-child', { state: 'Z', ppid: 500, start: 9100 }), cmdline: '', status: status(1000, 'defunct-child'), cgroup: '0::/\n' });
  // Not processes.
  await mkdir(path.join(root, 'proc/sys'));
  await writeFile(path.join(root, 'proc/uptime'), '1.0 1.0\n');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function source(hostRoot: string, reader: ProcReader, registry = new Registry()): ProcessSource {
  return new ProcessSource(processSourceConfig({ topByMemory: 1000, topByCpu: 1000 }), {
    reader,
    hostRoot,
    resource: HOST,
    registry,
    logger: silentLogger(),
    version: 't',
    clockTicks: 100,
    pageSize: PAGE,
    bootTimeUnixNano: () => BOOT,
    cpuCount: 16,
    now: () => BOOT + 10_000_000_000_000n,
  });
}

/** A comparable text of a cycle's points. */
function render(points: MetricPoint[]): string[] {
  return points
    .map((p) => JSON.stringify([p.descriptor.name, p.resource.key, p.attributes, String(p.startTimeUnixNano), p.value]))
    .sort();
}

describe.each(READERS)('fixture tree, %s', (_, makeReader) => {
  it('reads the captured processes and the traps', async () => {
    const sink = new ArraySink();
    await source(root, makeReader()).collect(sink);
    expect(sink.pids()).toEqual([399, 500, 4342]);

    const shell = sink.one('process.memory.usage', 'process.pid', 399);
    expect(shell.value).toBe(984 * PAGE);
    expect(shell.resource.attributes).toMatchObject({
      'host.name': 't',
      'process.parent_pid': 398,
      'process.executable.name': 'bash',
      'process.executable.path': '/usr/bin/bash',
      'process.owner': 'root',
    });
    expect(shell.resource.attributes['container.id']).toBeUndefined();
    expect(String(shell.resource.attributes['process.command_line'])).toMatch(/^bash -c set -x; uname -a;/);
    expect(sink.one('process.unix.file_descriptor.count', 'process.pid', 399).value).toBe(3);
    expect(sink.one('process.disk.io', 'process.pid', 399, { 'disk.io.direction': 'read' }).value).toBe(274432);
    expect(sink.one('process.paging.faults', 'process.pid', 399, { 'system.paging.fault.type': 'minor' }).value).toBe(2089);
    const shellCpu = sink.one('process.cpu.time', 'process.pid', 399, { 'cpu.mode': 'system' });
    expect(shellCpu.value).toBe(0.01);
    expect(shellCpu.startTimeUnixNano).toBe(BOOT + 22_440_000_000n);

    const init = sink.one('process.memory.usage', 'process.pid', 4342);
    expect(init.value).toBe(380 * PAGE);
    expect(init.resource.attributes).toMatchObject({
      'container.id': ID,
      'process.executable.name': 'sh',
      'process.command_line': 'sh -c while true; do echo hello $(date); sleep 1; done',
      'process.owner': 'root',
    });
    expect(sink.one('process.cpu.time', 'process.pid', 4342, { 'cpu.mode': 'user' }).startTimeUnixNano).toBe(BOOT + 5_433_870_000_000n);

    const weird = sink.one('process.memory.usage', 'process.pid', 500);
    expect(weird.resource.attributes).toMatchObject({
      'process.executable.name': 'my (weird) proc',
      'process.executable.path': '/opt/weird/bin/my (weird) proc',
      'process.command_line': './my (weird) proc --flag',
      'process.owner': 'alice',
      'container.id': CRIO_ID,
    });
    expect(sink.one('process.thread.count', 'process.pid', 500).value).toBe(7);
    expect(sink.one('process.memory.virtual', 'process.pid', 500).value).toBe(123_456_789);

    expect(sink.one('sextant.process_group.count', KEY, 'kernel').value).toBe(2);
    expect(sink.one('sextant.process_group.count', KEY, 'defunct-child').value).toBe(1);
    expect(sink.one('sextant.process_group.count', KEY, `sh\u0000${ID}`).value).toBe(1);
  });

  it('reads details once per process across cycles (a wrapping reader counts the calls)', async () => {
    const inner = makeReader();
    const calls: number[] = [];
    let scans = 0;
    const counting: ProcReader = {
      implementation: inner.implementation,
      get malformed() {
        return inner.malformed;
      },
      get hostError() {
        return inner.hostError;
      },
      scanProcesses: (dir, t) => (scans++, inner.scanProcesses(dir, t)),
      readProcessDetails: (dir, pid, max) => (calls.push(pid), inner.readProcessDetails(dir, pid, max)),
      readHostFile: (kind, file, out) => inner.readHostFile(kind, file, out),
      hostNames: (kind) => inner.hostNames(kind),
      countTcpStates: (out) => inner.countTcpStates(out),
    };
    const src = source(root, counting);
    for (let i = 0; i < 5; i++) await src.collect(new ArraySink());
    expect(scans).toBe(5);
    expect(calls.sort((a, b) => a - b)).toEqual([2, 77, 399, 500, 501, 4342]);
  });

  it('gives the same points as our own reader', async () => {
    const a = new ArraySink();
    const b = new ArraySink();
    await source(root, makeReader()).collect(a);
    await source(root, new TreeReader()).collect(b);
    expect(render(a.metrics)).toEqual(render(b.metrics));
  });
});

describe.each(READERS)('live /proc, %s', (_, makeReader) => {
  it('finds this test process with its exe and rss', async () => {
    const registry = new Registry();
    const src = new ProcessSource(processSourceConfig({ topByMemory: 1000, topByCpu: 10 }), {
      reader: makeReader(),
      hostRoot: '/',
      resource: HOST,
      registry,
      logger: silentLogger(),
      version: 't',
      clockTicks: clockTicks(),
      pageSize: pageSize(),
      bootTimeUnixNano: () => BOOT,
    });
    const sink = new ArraySink();
    await src.collect(sink);
    sink.clear();
    await src.collect(sink);
    const rss = process.memoryUsage().rss;
    const mine = sink.one('process.memory.usage', 'process.pid', process.pid);
    expect(mine.resource.attributes['process.executable.path']).toBe(realpathSync(process.execPath));
    expect(mine.resource.attributes['process.parent_pid']).toBe(process.ppid);
    expect(Math.abs(mine.value - rss) / rss).toBeLessThan(0.1);
    expect(sink.one('process.thread.count', 'process.pid', process.pid).value).toBeGreaterThan(1);
    expect(registry.gauge('sextant_process_series', '').get()).toBe(sink.metrics.length);
    expect(registry.gauge('sextant_process_processes', '').get()).toBeGreaterThan(1);
    expect(src.groupCount).toBeGreaterThan(0);
    const cpu = sink.one('process.cpu.time', 'process.pid', process.pid, { 'cpu.mode': 'user' });
    expect(cpu.value).toBeGreaterThan(0);
    expect(cpu.value).toBeLessThan(process.cpuUsage().user / 1e6 + 1);
  });

  it('masks secrets in a real command line before it leaves the node', async () => {
    // A real process whose arguments carry a password flag, an env-style token and a URL password.
    const child = spawn('/bin/sh', ['-c', 'sleep 30', 'sh', '--password=hunter2', 'API_TOKEN=abc', 'postgres://app:pa55@db/x'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const src = new ProcessSource(processSourceConfig({ topByMemory: 1000, topByCpu: 1000 }), {
        reader: makeReader(),
        hostRoot: '/',
        resource: HOST,
        registry: new Registry(),
        logger: silentLogger(),
        version: 't',
        clockTicks: clockTicks(),
        pageSize: pageSize(),
        bootTimeUnixNano: () => BOOT,
      });
      const sink = new ArraySink();
      await src.collect(sink);
      const line = String(sink.one('process.memory.usage', 'process.pid', child.pid!).resource.attributes['process.command_line']);
      expect(line).toBe('/bin/sh -c sleep 30 sh --password=[redacted] API_TOKEN=[redacted] postgres://app:[redacted]@db/x');
      expect(line).not.toMatch(/hunter2|abc|pa55/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
