// TCP connection counting by state, per collection cycle: reading /proc/net/tcp and tcp6 (the
// file path, parsed as the host source parses them) vs one NETLINK_SOCK_DIAG dump per family in
// the native addon (countTcpStates), in the same run. Wall µs and the process's kernel (system)
// CPU µs per cycle: the files' cost is kernel time, the kernel walking every bucket of its
// connection hash tables whatever the socket count. Both count this process's own namespace.
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/tcp-count.bench.js
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as N from '../../dist/native/index.js';
import { countTcpStates } from '../../dist/sources/host/net-tcp.js';
import { silentLogger } from '../../dist/self/logger.js';

const FILES = ['/proc/net/tcp', '/proc/net/tcp6'].filter((f) => existsSync(f));
const ROUNDS = 5;
const ROUND_MS = 300;
const buf = Buffer.allocUnsafe(256 << 10);

/** The file path, synchronously: the kernel's rendering dominates, not the parse. */
function filesCycle(counts) {
  counts.fill(0);
  for (const f of FILES) {
    const fd = openSync(f, 'r');
    try {
      let carry = 0;
      for (;;) {
        const n = readSync(fd, buf, carry, buf.length - carry, null);
        const filled = carry + n;
        if (n === 0) {
          if (filled > 0) countTcpStates(buf.toString('latin1', 0, filled), counts);
          break;
        }
        const nl = buf.lastIndexOf(10, filled - 1);
        if (nl < 0) {
          carry = filled;
          continue;
        }
        countTcpStates(buf.toString('latin1', 0, nl + 1), counts);
        carry = filled - (nl + 1);
        buf.copy(buf, 0, nl + 1, filled);
      }
    } finally {
      closeSync(fd);
    }
  }
}

function measure(cycle, counts) {
  for (let i = 0; i < 20; i++) cycle(counts); // warm up
  let cycles = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ROUND_MS) * 1_000_000n;
  let now = t0;
  while (now < end) {
    cycle(counts);
    cycles++;
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: Number(now - t0) / 1000 / cycles, sys: cpu.system / cycles, cpu: (cpu.user + cpu.system) / cycles };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run() {
  const native = N.loadProcReader({ native: true, logger: silentLogger() });
  const ways = [['files /proc/net/tcp{,6}', filesCycle]];
  if (native.implementation === 'native' && native.countTcpStates(new Float64Array(N.TCP_COUNT_SLOTS)) === 0) {
    ways.push(['netlink (native addon)', (counts) => native.countTcpStates(counts)]);
  }
  const counts = new Float64Array(N.TCP_COUNT_SLOTS);
  const got = new Map(ways.map(([name]) => [name, []]));
  // Alternate round by round so drift on a shared machine hits both alike.
  for (let r = 0; r < ROUNDS; r++) for (const [name, cycle] of ways) got.get(name).push(measure(cycle, counts));
  filesCycle(counts);
  const sockets = counts.reduce((a, b) => a + b, 0);
  const base = median(got.get(ways[0][0]).map((m) => m.cpu));
  return ways.map(([name]) => {
    const ms = got.get(name);
    const cpu = median(ms.map((m) => m.cpu));
    return {
      way: name,
      sockets,
      'wall µs/cycle': Number(median(ms.map((m) => m.wall)).toFixed(1)),
      'CPU µs/cycle': Number(cpu.toFixed(1)),
      'of which kernel': Number(median(ms.map((m) => m.sys)).toFixed(1)),
      'CPU vs files': Number((cpu / base).toFixed(3)),
    };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.table(await run());
