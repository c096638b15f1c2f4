// The agent's OTLP receiver: spans per CPU-second of a real `sextant agent` (mode application,
// the receiver alone) taking OTLP/HTTP protobuf requests of 512 spans each — encoded by the
// official OpenTelemetry JS exporter's serializer (@opentelemetry/otlp-transformer) from spans the
// real SDK made — from a client on loopback, through validation and enrichment, the pipeline
// and the exporter, to an endpoint on loopback. CPU is the agent process's own (utime + stime
// from /proc/<pid>/stat), not the client's or the endpoint's.
//
// Baseline in the same run: a full protobufjs decode + re-encode of the same requests (the
// gateway's OtlpCodec, what the agent would do without the pass-through), in this process.
// Also: the receiver's idle cost, RSS of an idle agent with the receiver on minus off.
//
// Run: npm run bench -- receiver
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Pool } from 'undici';
import { OtlpCodec } from '../../dist/gateway/otlp-codec.js';
import { splitRequest } from '../../dist/receiver/otlp-walk.js';
import { ResourceRewriter } from '../../dist/receiver/resource-rewrite.js';
import { encodePassThrough } from '../../dist/export/otlp/pass-through.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, '../../dist/cli/sextant.js');
const SPANS_PER_REQUEST = 512;
const REQUESTS = Number(process.env.SEXTANT_TEST_BENCH_REQUESTS ?? '400');
const CLOCK_TICK = 100;

/** 512 spans as an instrumented HTTP service makes them (server span + 2 children per request). */
function makeRequests(n) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.4.2', 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.version': '2.12.1', 'process.pid': 4242, 'host.name': 'checkout-7d9c-abcde', 'k8s.pod.uid': '6a1c2b7e-1111-4a5b-9c8d-0123456789ab', 'k8s.container.name': 'app' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.223.0');
  for (let i = 0; i < SPANS_PER_REQUEST; i++) {
    const span = tracer.startSpan(i % 3 === 0 ? 'GET /api/v1/orders/:id' : i % 3 === 1 ? 'pg.query:SELECT shop' : 'middleware - query', {
      kind: i % 3 === 0 ? 1 : 2,
      attributes: { 'http.request.method': 'GET', 'url.path': `/api/v1/orders/${100000 + i}`, 'http.route': '/api/v1/orders/:id', 'http.response.status_code': 200, 'server.address': 'checkout', 'server.port': 8080, 'network.protocol.version': '1.1', 'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) test' },
    });
    span.end();
  }
  const spans = exporter.getFinishedSpans();
  const body = ProtobufTraceSerializer.serializeRequest(spans);
  return Array.from({ length: n }, () => Buffer.from(body));
}

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICK;
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** An endpoint on loopback that takes everything (counts bytes). */
async function startSink() {
  let bytes = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    req.on('data', (d) => (bytes += d.length));
    req.on('end', () => {
      requests++;
      res.setHeader('content-type', 'application/x-protobuf');
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, stats: () => ({ bytes, requests }), close: () => new Promise((r) => server.close(r)) };
}

function startAgent(env) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sx-bench-recv-'));
  const child = spawn(process.execPath, [BIN, 'agent'], {
    env: { PATH: process.env.PATH, HOME: dir, SEXTANT_STATE_DIR: path.join(dir, 'state'), SEXTANT_LISTEN: '127.0.0.1:0', SEXTANT_LOG_LEVEL: 'info', SEXTANT_RECEIVER_HTTP_LISTEN: '127.0.0.1:0', SEXTANT_RECEIVER_GRPC_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const ready = new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const line = stderr.split('\n').find((l) => l.includes('"agent started"'));
      if (line) {
        clearInterval(t);
        const http = stderr.split('\n').find((l) => l.includes('OTLP receiver listening'));
        resolve(http ? JSON.parse(http).http : undefined);
      } else if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`agent exited: ${stderr}`));
      }
    }, 50);
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  };
  return { child, ready, stop, stderr: () => stderr };
}

async function agentThroughput(requests, compression) {
  const sink = await startSink();
  const agent = startAgent({ SEXTANT_MODE: 'application', SEXTANT_ENDPOINT: sink.url, SEXTANT_COMPRESSION: compression, SEXTANT_EXPORT_MAX_IN_FLIGHT: '4' });
  try {
    const http = await agent.ready;
    const pool = new Pool(`http://${http}`, { connections: 4, pipelining: 1 });
    const send = async (body) => {
      for (;;) {
        const r = await pool.request({ path: '/v1/traces', method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
        await r.body.dump();
        if (r.statusCode === 200) return;
        if (r.statusCode !== 503) throw new Error(`HTTP ${r.statusCode}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    // Warm-up: 10% of the requests, not measured.
    const warm = Math.max(10, Math.floor(requests.length / 10));
    for (let i = 0; i < warm; i += 4) await Promise.all(requests.slice(i, i + 4).map(send));
    const deliveredBefore = sink.stats().bytes;
    await new Promise((r) => setTimeout(r, 1500));
    const cpu0 = cpuSeconds(agent.child.pid);
    const t0 = performance.now();
    for (let i = 0; i < requests.length; i += 4) await Promise.all(requests.slice(i, i + 4).map(send));
    // Until the endpoint has everything: the export is part of the work measured.
    const expected = deliveredBefore + 1;
    let last = -1;
    while (sink.stats().bytes !== last) {
      last = sink.stats().bytes;
      await new Promise((r) => setTimeout(r, 1200));
    }
    const cpu = cpuSeconds(agent.child.pid) - cpu0;
    const wall = (performance.now() - t0) / 1000;
    await pool.close();
    void expected;
    return { spans: requests.length * SPANS_PER_REQUEST, cpu, wall, exportedMiB: (sink.stats().bytes - deliveredBefore) / 2 ** 20 };
  } finally {
    await agent.stop();
    await sink.close();
  }
}

async function protobufjsBaseline(requests) {
  const codec = await OtlpCodec.load();
  for (const b of requests.slice(0, 20)) codec.encode('traces', codec.decode('traces', 'protobuf', b));
  const c0 = process.cpuUsage();
  for (const b of requests) codec.encode('traces', codec.decode('traces', 'protobuf', b));
  const c = process.cpuUsage(c0);
  return { spans: requests.length * SPANS_PER_REQUEST, cpu: (c.user + c.system) / 1e6 };
}

/** The receiver's own work on a request, in this process: the validating walk, the resource rewrite, the export request. */
function passThroughInProcess(requests) {
  const rewriter = new ResourceRewriter();
  const enrichment = { attributes: { 'host.name': 'node-1', 'k8s.pod.name': 'checkout-7d9c-abcde', 'k8s.namespace.name': 'shop', 'k8s.deployment.name': 'checkout', 'dt.cost.costcenter': 'cc-42' }, proven: new Set(['host.name', 'k8s.pod.name']), key: 'bench' };
  const once = (b) => encodePassThrough(splitRequest('traces', b).map((e) => ({ bytes: rewriter.rewrite(b, e, enrichment), items: e.items })));
  for (const b of requests.slice(0, 20)) once(b);
  const c0 = process.cpuUsage();
  for (const b of requests) once(b);
  const c = process.cpuUsage(c0);
  return { spans: requests.length * SPANS_PER_REQUEST, cpu: (c.user + c.system) / 1e6 };
}

async function idleRss(receiver) {
  const sink = await startSink();
  const samples = [];
  for (let k = 0; k < 3; k++) {
    const agent = startAgent({ SEXTANT_MODE: 'host', SEXTANT_ENDPOINT: sink.url, SEXTANT_INTERVAL: '1h', SEXTANT_RECEIVER_ENABLED: String(receiver) });
    try {
      await agent.ready;
      await new Promise((r) => setTimeout(r, 3000));
      samples.push(rssBytes(agent.child.pid));
    } finally {
      await agent.stop();
    }
  }
  await sink.close();
  samples.sort((a, b) => a - b);
  return samples[1];
}

export async function run() {
  const requests = makeRequests(REQUESTS);
  const bytesPerRequest = requests[0].length;
  const rows = [];
  const base = await protobufjsBaseline(requests);
  const baseRate = base.spans / base.cpu;
  rows.push({ what: 'protobufjs decode + re-encode (baseline, in-process)', 'spans/CPU-s': Math.round(baseRate), 'ratio': '1.00×', 'CPU s': base.cpu.toFixed(2), 'request bytes': bytesPerRequest });
  const pass = passThroughInProcess(requests);
  rows.push({ what: 'receiver walk + rewrite + request (same work, in-process)', 'spans/CPU-s': Math.round(pass.spans / pass.cpu), 'ratio': `${(pass.spans / pass.cpu / baseRate).toFixed(2)}×`, 'CPU s': pass.cpu.toFixed(2), 'request bytes': bytesPerRequest });
  for (const compression of ['none', 'gzip']) {
    const a = await agentThroughput(requests, compression);
    const rate = a.spans / a.cpu;
    rows.push({ what: `agent receiver → endpoint, export compression ${compression}`, 'spans/CPU-s': Math.round(rate), 'ratio': `${(rate / baseRate).toFixed(2)}×`, 'CPU s': a.cpu.toFixed(2), 'request bytes': bytesPerRequest, 'wall s': a.wall.toFixed(1), 'exported MiB': a.exportedMiB.toFixed(1) });
  }
  const off = await idleRss(false);
  const on = await idleRss(true);
  rows.push({ what: 'idle RSS, receiver off → on (host mode, median of 3)', 'spans/CPU-s': '', 'ratio': '', 'CPU s': '', 'request bytes': '', 'idle RSS MB': `${(off / 1e6).toFixed(1)} → ${(on / 1e6).toFixed(1)} (+${((on - off) / 1e6).toFixed(1)})` });
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.table(await run());
