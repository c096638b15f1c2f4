// The gateway's cluster monitor at scale (issue M2.4): 5,000 pods on 100 nodes with their
// workloads (5 DaemonSets on every node, 50 StatefulSets of 10 with a claim each, Deployments of
// 8 with a current and an old ReplicaSet, services, HPAs, quotas, cronjobs) and 20,000 events,
// served in the API's shapes over loopback HTTPS by a stand-in API server in a worker thread
// (cluster-api-worker.js: its V8 heap is not the one measured here).
//
// Measured on the monitor as `sextant gateway` builds it (createClusterMonitor from dist/), in
// this thread:
//   - initial list: from start (the Lease is free) until all 13 kinds are listed, and until all
//     20,000 events are delivered;
//   - heap retained (target ≤ 2 KB per pod): the object graph's share (V8 heap used after a full
//     GC, minus the same once the graph is emptied) and everything the monitor keeps (with all
//     listed and delivered, minus before start: clients, buffers and compiled code included);
//   - CPU per metric interval, this thread only (process.threadCpuUsage): walking the graph,
//     building resources and points, encoding OTLP (target ≤ 50 ms per 1,000 pods); once into an
//     output that only counts bytes, once through a real gateway's ingest (decode + NDJSON store,
//     what the gateway does to any OTLP it receives);
//   - CPU per 1,000 watch events: pod status updates (graph upserts) and new events (delivered).
// Baselines in the same run: keeping the same pods as parsed API objects (what a cache of whole
// objects holds, e.g. a client-go informer store) and JSON.parse of the same 1,000 watch lines
// (the least any client does).
// Run: npm run bench -- cluster   (smaller: SEXTANT_BENCH_CLUSTER_PODS=1000 SEXTANT_BENCH_CLUSTER_EVENTS=4000)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createClusterMonitor } from '../../dist/gateway/cluster/cluster-monitor.js';
import { ingestOutput } from '../../dist/gateway/cluster/ingest-output.js';
import { startGateway } from '../../dist/gateway/gateway.js';
import { silentLogger } from '../../dist/self/logger.js';
import { Registry } from '../../dist/self/registry.js';

const PODS = Number(process.env.SEXTANT_BENCH_CLUSTER_PODS ?? 5000);
const NODES = Number(process.env.SEXTANT_BENCH_CLUSTER_NODES ?? 100);
const EVENTS = Number(process.env.SEXTANT_BENCH_CLUSTER_EVENTS ?? 20_000);
const INTERVALS = 10;
const WATCH_EVENTS = 1000;
const TARGET_BYTES_PER_POD = 2048;
const TARGET_MS_PER_1000_PODS = 50;
const MiB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const fmt = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x < 10 ? x.toFixed(2) : x.toFixed(1));

function fullGc() {
  for (let i = 0; i < 4; i++) gc();
}

function heapUsed() {
  fullGc();
  return process.memoryUsage().heapUsed;
}

function threadCpuMs() {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

/** Resolves once `check` holds, looking after every turn of the event loop (bounded). */
async function until(check, ms, what) {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function tls() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sextant-bench-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'c.pem'), 'utf8'), dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export async function run() {
  const { key, cert, dir } = tls();
  const worker = new Worker(new URL('./cluster-api-worker.js', import.meta.url), { workerData: { key, cert, nodes: NODES, pods: PODS, events: EVENTS } });
  let monitor;
  try {
    return await measure(worker, cert, dir, (m) => (monitor = m));
  } finally {
    // Whatever failed, nothing is left running: the monitor, the API worker, the files.
    await monitor?.stop().catch(() => undefined);
    await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(worker, cert, dir, started) {
  const next = () => new Promise((resolve) => worker.once('message', resolve));
  const { port, counts } = await next();
  const saDir = path.join(dir, 'sa');
  execFileSync('mkdir', ['-p', saDir]);
  execFileSync('sh', ['-c', `printf token > ${saDir}/token && cat > ${saDir}/ca.crt && printf sextant > ${saDir}/namespace`], { input: cert });
  const dataDir = path.join(dir, 'data');

  // Where the monitor's OTLP goes: counted, or through a real gateway's ingest.
  let gateway;
  const counted = { bytes: 0, requests: 0 };
  const output = {
    deliver(signal, body, records) {
      if (gateway !== undefined) return ingestOutput(gateway).deliver(signal, body, records);
      counted.bytes += body.byteLength;
      counted.requests++;
      return { ok: true };
    },
  };
  const registry = new Registry();
  const sent = registry.counter('sextant_cluster_events_total', '');
  const h0 = heapUsed();
  const monitor = createClusterMonitor(
    {
      cluster: { enabled: 'true', interval: 600_000, leaseNamespace: '', leaseDuration: 15_000 },
      kubernetes: { enabled: 'auto', apiServer: undefined, tokenFile: undefined, caFile: undefined, clusterName: 'bench', podLabels: [], podAnnotations: [], namespaceLabels: [], namespaceAnnotations: [], costCenterFrom: [], productFrom: [] },
    },
    { logger: silentLogger(), registry, version: 'bench', output, dataDir, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, serviceAccountDir: saDir },
  );
  started(monitor);
  const kinds = ['Namespace', 'Node', 'ReplicaSet', 'Job', 'Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'HorizontalPodAutoscaler', 'ResourceQuota', 'PersistentVolumeClaim', 'Service'];
  const t0 = performance.now();
  const cpu0 = threadCpuMs();
  monitor.start();
  await until(() => kinds.every((k) => monitor.graph.synced(k)), 120_000, 'all kinds listed');
  const listMs = performance.now() - t0;
  const listCpuMs = threadCpuMs() - cpu0;
  await until(() => sent.get({ result: 'sent' }) >= EVENTS, 120_000, 'all events delivered');
  const eventsMs = performance.now() - t0;
  const eventsCpuMs = threadCpuMs() - cpu0;
  const pods = monitor.graph.count('Pod');
  const objects = kinds.reduce((n, k) => n + monitor.graph.count(k), 0);
  const retained = heapUsed() - h0;

  // Metric intervals into the counting output.
  await monitor.runInterval();
  await monitor.runInterval();
  const points = [];
  const cpuCounted = [];
  for (let i = 0; i < INTERVALS; i++) {
    const c = threadCpuMs();
    points.push(await monitor.runInterval());
    cpuCounted.push(threadCpuMs() - c);
  }
  const bytesPerInterval = counted.bytes / (counted.requests || 1);

  // The same intervals through a real gateway's ingest (decode, NDJSON store; no upstream).
  gateway = await startGateway(
    { listen: '127.0.0.1:0', tokens: [], dataDir: path.join(dir, 'gw'), maxRequestBytes: 8 * MiB, maxDecompressedBytes: 32 * MiB, store: { maxFileBytes: 1024 * MiB, maxTotalBytes: 4096 * MiB }, forward: { maxQueueBytes: 64 * MiB, maxQueueItems: 1024 }, shutdownTimeoutMs: 10_000 },
    { registry: new Registry(), logger: silentLogger() },
  );
  await monitor.runInterval();
  const cpuGateway = [];
  for (let i = 0; i < Math.min(5, INTERVALS); i++) {
    const c = threadCpuMs();
    await monitor.runInterval();
    cpuGateway.push(threadCpuMs() - c);
  }
  await gateway.close();
  gateway = undefined;

  // 1,000 watch events: pod status updates into the graph.
  const v0 = monitor.graph.version;
  let c = threadCpuMs();
  worker.postMessage({ cmd: 'modify-pods', n: WATCH_EVENTS });
  await until(() => monitor.graph.version >= v0 + WATCH_EVENTS, 60_000, 'pod updates applied');
  const podWatchCpu = threadCpuMs() - c;
  // 1,000 new events, delivered.
  const e0 = sent.get({ result: 'sent' });
  c = threadCpuMs();
  worker.postMessage({ cmd: 'add-events', n: WATCH_EVENTS, from: 0 });
  await until(() => sent.get({ result: 'sent' }) >= e0 + WATCH_EVENTS, 60_000, 'new events delivered');
  const eventWatchCpu = threadCpuMs() - c;

  // The object graph's own share: what the heap gives back when it is emptied.
  const hEnd = heapUsed();
  monitor.graph.clear();
  const graphBytes = hEnd - heapUsed();
  await monitor.stop();

  // Baselines: the same 1,000 watch lines JSON.parse'd; the same pods kept as parsed objects.
  worker.postMessage({ cmd: 'sample-lines', n: Math.max(WATCH_EVENTS, PODS) });
  const { lines } = await next();
  c = threadCpuMs();
  for (let round = 0; round < 5; round++) for (let i = 0; i < WATCH_EVENTS; i++) JSON.parse(lines[i]);
  const parseCpu = (threadCpuMs() - c) / 5;
  const hb = heapUsed();
  const whole = new Map();
  for (let i = 0; i < PODS; i++) {
    const o = JSON.parse(lines[i]).object;
    whole.set(o.metadata.uid, o);
  }
  const wholeBytes = heapUsed() - hb;
  whole.clear();

  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const perK = (ms) => (ms / pods) * 1000;
  const intervalMs = median(cpuCounted);
  const gatewayMs = median(cpuGateway);
  return [
    { measure: 'cluster', value: `${fmt(pods)} pods, ${NODES} nodes, ${fmt(objects)} objects, ${fmt(counts.Event)} events`, target: '', note: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}` },
    { measure: 'initial list, all 13 kinds (wall)', value: `${fmt(listMs)} ms`, target: '', note: `${fmt(listCpuMs)} ms CPU of this thread` },
    { measure: '… and all events delivered (wall)', value: `${fmt(eventsMs)} ms`, target: '', note: `${fmt(eventsCpuMs)} ms CPU` },
    { measure: 'object graph retained, per pod', value: `${fmt(graphBytes / pods)} B`, target: `≤ ${TARGET_BYTES_PER_POD} B`, note: `${fmt(graphBytes / 1048576)} MiB: all ${fmt(objects)} objects and their indexes` },
    { measure: 'everything the monitor retains, per pod', value: `${fmt(retained / pods)} B`, target: `≤ ${TARGET_BYTES_PER_POD} B`, note: `${fmt(retained / 1048576)} MiB: the graph, clients, buffers, compiled code` },
    { measure: 'baseline: the pods as whole API objects', value: `${fmt(wholeBytes / PODS)} B`, target: '', note: `per pod, pods only: ${fmt(wholeBytes / graphBytes)}× the whole graph` },
    { measure: 'CPU per metric interval', value: `${fmt(intervalMs)} ms`, target: '', note: `median of ${INTERVALS}; ${fmt(median(points))} points, ${fmt(bytesPerInterval / 1024)} KiB OTLP per request` },
    { measure: '… per 1,000 pods', value: `${fmt(perK(intervalMs))} ms`, target: `≤ ${TARGET_MS_PER_1000_PODS} ms`, note: '' },
    { measure: '… through the gateway’s ingest', value: `${fmt(gatewayMs)} ms`, target: '', note: `${fmt(perK(gatewayMs))} ms per 1,000 pods (decode + NDJSON store of the same requests)` },
    { measure: 'CPU per 1,000 pod watch events', value: `${fmt(podWatchCpu)} ms`, target: '', note: `baseline JSON.parse of the same lines: ${fmt(parseCpu)} ms (${fmt(podWatchCpu / parseCpu)}×)` },
    { measure: 'CPU per 1,000 new events (to OTLP)', value: `${fmt(eventWatchCpu)} ms`, target: '', note: 'parse, convert, resource, encode, deliver, checkpoint' },
  ];
}
