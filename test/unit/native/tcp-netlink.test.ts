// TCP connection counting over netlink (native/sextant_tcp.c) against /proc/net/tcp{,6}, with
// real sockets opened here on loopback; the network-namespace check that picks between them; and
// the host source using whichever was picked, with the same output.
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsProcReader } from '../../../src/native/fallback.js';
import { TCP_COUNT_SLOTS, TCP_COUNT_UNSUPPORTED, type ProcReader } from '../../../src/native/types.js';
import { createResource } from '../../../src/model/index.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';
import { HostSource } from '../../../src/sources/host/host-source.js';
import { countTcpStates as countTcpLines } from '../../../src/sources/host/net-tcp.js';
import { chooseTcpCounter, namespaceId } from '../../../src/sources/host/tcp-counter.js';
import { ArraySink } from '../../helpers/array-sink.js';
import { native, removeDir, tmpDir } from './proc-tree.js';
import { until } from '../../helpers/wait.js';

const ESTABLISHED = 1;
const SYN_RECV = 3;
const LISTEN = 10;
const NEW_SYN_RECV = 12;
const onLinux = process.platform === 'linux';

/** /proc/net/tcp{,6} counted as the host source counts them (12 folded into 3 by the parser). */
function fileCounts(): Float64Array {
  const out = new Float64Array(TCP_COUNT_SLOTS);
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'latin1');
    } catch {
      continue; // no IPv6
    }
    expect(countTcpLines(text, out)).toBe(0);
  }
  return out;
}

function netlinkCounts(reader: ProcReader): Float64Array {
  const out = new Float64Array(TCP_COUNT_SLOTS).fill(7); // zeroed by the call
  expect(reader.countTcpStates(out)).toBe(0);
  expect(out[0]).toBe(0); // no state outside 1..12
  out[SYN_RECV] = out[SYN_RECV]! + out[NEW_SYN_RECV]!;
  out[NEW_SYN_RECV] = 0;
  return out;
}

/**
 * Netlink, files, netlink back to back, until the two netlink reads agree on LISTEN and
 * ESTABLISHED (other test files run in parallel and open sockets of their own); bounded.
 */
function quietCounts(reader: ProcReader): Promise<{ netlink: Float64Array; files: Float64Array }> {
  return until(
    'TCP counts holding still for three reads',
    () => {
      const a = netlinkCounts(reader);
      const files = fileCounts();
      const b = netlinkCounts(reader);
      const still = a[LISTEN] === b[LISTEN] && a[ESTABLISHED] === b[ESTABLISHED] && files[LISTEN] === a[LISTEN] && files[ESTABLISHED] === a[ESTABLISHED];
      return still && { netlink: a, files };
    },
    { timeoutMs: 5_000, everyMs: 25 },
  );
}

interface Opened {
  readonly listeners: number;
  readonly established: number;
  close(): Promise<void>;
}

/** A listening server and `pairs` connections to it, on one loopback address. */
async function openSockets(host: string, pairs: number): Promise<Opened> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => accepted.push(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  const clients: net.Socket[] = [];
  for (let i = 0; i < pairs; i++) {
    const c = net.connect(port, host);
    clients.push(c);
    await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
  }
  // Both ends of each connection are ESTABLISHED once the server has accepted them all.
  await until(`${pairs} connections accepted`, () => accepted.length >= pairs);
  expect(accepted).toHaveLength(pairs);
  return {
    listeners: 1,
    established: 2 * pairs,
    async close() {
      for (const s of [...clients, ...accepted]) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function ipv6Loopback(): Promise<boolean> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

describe('chooseTcpCounter: netlink only in the namespace reported on', () => {
  const ns = (dev: bigint, ino: bigint) => ({ dev, ino });

  it('chooses netlink when both namespace files are the same inode on the same device', () => {
    expect(chooseTcpCounter(ns(4n, 4026531840n), ns(4n, 4026531840n)).counter).toBe('netlink');
  });

  it('chooses the files when the inodes (or devices) differ: a pod without hostNetwork', () => {
    expect(chooseTcpCounter(ns(4n, 4026532001n), ns(4n, 4026531840n))).toEqual({ counter: 'files', reason: expect.stringMatching(/another network namespace/) });
    expect(chooseTcpCounter(ns(5n, 4026531840n), ns(4n, 4026531840n)).counter).toBe('files');
  });

  it('chooses the files when either namespace cannot be stat-ed', () => {
    expect(chooseTcpCounter(undefined, ns(4n, 1n))).toEqual({ counter: 'files', reason: expect.stringMatching(/cannot be compared/) });
    expect(chooseTcpCounter(ns(4n, 1n), undefined).counter).toBe('files');
    expect(chooseTcpCounter(undefined, undefined).counter).toBe('files');
  });

  it.runIf(onLinux)('namespaceId stats nsfs files and is undefined for a missing one', () => {
    const own = namespaceId('/proc/self/ns/net');
    expect(own).toBeDefined();
    expect(namespaceId('/proc/thread-self/ns/net')).toEqual(own);
    expect(namespaceId('/nonexistent/proc/1/ns/net')).toBeUndefined();
  });
});

describe('the JS fallback', () => {
  it('reports "not supported" so the caller reads the files', () => {
    const out = new Float64Array(TCP_COUNT_SLOTS);
    expect(new JsProcReader().countTcpStates(out)).toBe(TCP_COUNT_UNSUPPORTED);
  });

  it('rejects an output array that is too short or of the wrong type, like the addon', () => {
    const readers: ProcReader[] = native ? [new JsProcReader(), native] : [new JsProcReader()];
    for (const r of readers) {
      expect(() => r.countTcpStates(new Float64Array(12))).toThrow(TypeError);
      expect(() => r.countTcpStates(new Int32Array(13) as unknown as Float64Array)).toThrow(TypeError);
    }
  });
});

// Under CI=true the addon is built, so these run there (and fail if it did not load).
const nativeRuns = onLinux && (native !== undefined || process.env.CI === 'true');

describe.runIf(nativeRuns)('countTcpStates over netlink (native addon)', () => {
  let reader: ProcReader;
  let v6 = false;
  beforeAll(async () => {
    expect(native, 'the addon must load under CI=true').toBeDefined();
    reader = native!;
    v6 = await ipv6Loopback();
  });

  it('agrees with /proc/net/tcp{,6} on LISTEN and ESTABLISHED, and on the churning states roughly', async () => {
    const opened = [await openSockets('127.0.0.1', 3)];
    if (v6) opened.push(await openSockets('::1', 2));
    try {
      const { netlink, files } = await quietCounts(reader);
      expect(netlink[LISTEN]).toBe(files[LISTEN]);
      expect(netlink[ESTABLISHED]).toBe(files[ESTABLISHED]);
      expect(netlink[LISTEN]).toBeGreaterThanOrEqual(opened.length);
      expect(netlink[ESTABLISHED]).toBeGreaterThanOrEqual(v6 ? 10 : 6);
      // TIME_WAIT and the closing states come and go between two reads.
      for (let st = 1; st < NEW_SYN_RECV; st++) expect(Math.abs(netlink[st]! - files[st]!)).toBeLessThanOrEqual(20);
    } finally {
      for (const o of opened) await o.close();
    }
  });

  it('rises by exactly the sockets opened here, IPv4 and IPv6', async () => {
    const hosts = v6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
    // Other test files open and close sockets meanwhile: a few tries, each from quiet counts.
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = (await quietCounts(reader)).netlink;
      const opened: Opened[] = [];
      for (const h of hosts) opened.push(await openSockets(h, 4));
      const after = (await quietCounts(reader)).netlink;
      for (const o of opened) await o.close();
      const listen = after[LISTEN]! - before[LISTEN]!;
      const established = after[ESTABLISHED]! - before[ESTABLISHED]!;
      if (listen === hosts.length && established === 8 * hosts.length) return;
      last = `listen +${listen}, established +${established}`;
      await sleep(100);
    }
    throw new Error(`counts never rose by exactly the sockets opened: ${last}`);
  });

  it('zeroes the output and fills only slots 1..12 (NEW_SYN_RECV kept apart for the caller)', () => {
    const out = new Float64Array(TCP_COUNT_SLOTS + 3).fill(99);
    expect(reader.countTcpStates(out)).toBe(0);
    expect(out[0]).toBe(0);
    expect([...out.subarray(TCP_COUNT_SLOTS)]).toEqual([99, 99, 99]);
    for (let st = 1; st < TCP_COUNT_SLOTS; st++) expect(Number.isInteger(out[st])).toBe(true);
  });

  it('is cheap enough to run every cycle: 200 calls back to back, no leaked descriptors', () => {
    const out = new Float64Array(TCP_COUNT_SLOTS);
    const fds = () => readdirSync('/proc/self/fd').length;
    const fdBefore = fds();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) expect(reader.countTcpStates(out)).toBe(0);
    const msPerCall = Number(process.hrtime.bigint() - t0) / 1e6 / 200;
    expect(fds()).toBe(fdBefore);
    // ~0.3 ms here; generous for a loaded CI machine.
    expect(msPerCall).toBeLessThan(20);
  });
});

/** A reader that counts its countTcpStates calls and otherwise is `inner`. */
function spy(inner: ProcReader): ProcReader & { tcpCalls: number } {
  const r = Object.create(inner) as ProcReader & { tcpCalls: number };
  r.tcpCalls = 0;
  r.countTcpStates = (out: Float64Array) => {
    r.tcpCalls++;
    return inner.countTcpStates(out);
  };
  r.readHostFile = inner.readHostFile.bind(inner);
  r.hostNames = inner.hostNames.bind(inner);
  return r;
}

function hostSource(hostRoot: string, reader: ProcReader): HostSource {
  return new HostSource(
    { hostRoot, network: { tcpConnections: true } },
    { resource: createResource({ 'host.name': 't' }), registry: new Registry(), logger: silentLogger(), version: '0', clockTicks: 100, reader, statfs: async () => ({ bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0 }) },
  );
}

async function tcpPoints(source: HostSource): Promise<Map<string, number>> {
  const sink = new ArraySink();
  await source.collect(sink);
  return new Map(sink.named('system.network.connection.count').map((p) => [String(p.attributes['network.connection.state']), p.value as number]));
}

describe.runIf(onLinux)('HostSource: which counter, same output', () => {
  let root: string;
  beforeAll(() => {
    root = tmpDir('tcpns');
    // A host root whose /proc/1 is this process: the same network namespace, the same files.
    mkdirSync(path.join(root, 'proc/1/ns'), { recursive: true });
    symlinkSync('/proc/self/net', path.join(root, 'proc/1/net'));
    symlinkSync('/proc/self/ns/net', path.join(root, 'proc/1/ns/net'));
  });
  afterAll(() => removeDir(root));

  it('reads the files under a host root whose namespace cannot be compared', async () => {
    const bare = tmpDir('tcpbare');
    try {
      mkdirSync(path.join(bare, 'proc/1'), { recursive: true });
      symlinkSync('/proc/self/net', path.join(bare, 'proc/1/net'));
      const r = spy(native ?? new JsProcReader());
      const points = await tcpPoints(hostSource(bare, r));
      expect(r.tcpCalls).toBe(0);
      expect(points.get('listen')).toEqual(expect.any(Number));
      expect(points.size).toBe(11);
    } finally {
      removeDir(bare);
    }
  });

  it('asks the JS reader once, hears "not supported", and reads the files from then on', async () => {
    const r = spy(new JsProcReader());
    const s = hostSource(root, r);
    expect((await tcpPoints(s)).size).toBe(11);
    expect((await tcpPoints(s)).size).toBe(11);
    expect(r.tcpCalls).toBe(1);
  });

  it.runIf(nativeRuns)('counts over netlink in the same namespace, with the file path\'s output', async () => {
    const opened = await openSockets('127.0.0.1', 2);
    try {
      const viaNetlink = spy(native!);
      const a = hostSource(root, viaNetlink);
      const b = hostSource('/', spy(native!));
      const c = hostSource(root, new JsProcReader());
      let last = '';
      for (let i = 0; i < 20; i++) {
        const [n1, files, n2] = [await tcpPoints(a), await tcpPoints(c), await tcpPoints(b)];
        expect([...n1.keys()]).toEqual([...files.keys()]);
        const same = (st: string) => n1.get(st) === files.get(st) && n2.get(st) === files.get(st);
        if (same('listen') && same('established')) {
          expect(viaNetlink.tcpCalls).toBeGreaterThan(0);
          expect(n1.get('listen')).toBeGreaterThanOrEqual(1);
          expect(n1.get('established')).toBeGreaterThanOrEqual(4);
          return;
        }
        last = `netlink ${JSON.stringify([...n1])}, files ${JSON.stringify([...files])}`;
        await sleep(25);
      }
      throw new Error(`netlink and files never agreed: ${last}`);
    } finally {
      await opened.close();
    }
  });
});
