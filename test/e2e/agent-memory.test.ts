import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/sextant-process.js';

/**
 * What a real agent loads and how its heap is bounded (issue: memory bounded by construction):
 * every library is loaded only where its feature is on — no protobufjs or gRPC without a CRI
 * socket, no YAML parser without a config file, no gateway, no OpenTelemetry SDK, none of
 * undici's fetch/WebSocket/cache code, and node:http never through an ESM import — and the V8
 * limits are applied at start whoever launched Node (here: Node directly, as the image's
 * capability launcher and the systemd unit do), a YAML `memory:` setting included. The three
 * memory figures are on /metrics.
 */

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const RECORDER = join(REPO, 'test/e2e/helpers/module-recorder.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'sextant-memory-'));
let endpoint: http.Server;
let endpointUrl = '';
let requests = 0;

beforeAll(async () => {
  endpoint = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  endpointUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => endpoint.close(() => r()));
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  readonly execArgv: string[];
  readonly urls: string[];
  readonly metrics: string;
  readonly stderr: string;
}

let runs = 0;

/** Starts `node --import recorder dist/cli/sextant.js agent <args>`, lets it export twice, stops it, returns what it loaded. */
async function runAgent(env: Record<string, string>, args: string[] = []): Promise<Run> {
  const dir = join(tmp, `run${runs++}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'modules.json');
  const child = spawn(process.execPath, ['--import', RECORDER, BIN, 'agent', ...args], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      SEXTANT_TEST_MODULES_OUT: out,
      SEXTANT_ENDPOINT: endpointUrl,
      // This machine's own /proc; no container runtime socket unless a test gives one.
      SEXTANT_HOST_ROOT: '/',
      SEXTANT_CONTAINERS_DOCKER_SOCKETS: '/nonexistent/docker.sock',
      SEXTANT_CONTAINERS_CRI_SOCKETS: '/nonexistent/containerd.sock',
      SEXTANT_LOGS_READ_FROM: 'end',
      SEXTANT_STATE_DIR: join(dir, 'state'),
      SEXTANT_INTERVAL: '1s',
      SEXTANT_LISTEN: '127.0.0.1:0',
      SEXTANT_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const deadline = Date.now() + 30_000;
    let self: string | undefined;
    while (self === undefined) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`agent did not start: ${stderr}`);
      const started = stderr.split('\n').find((l) => l.includes('"agent started"'));
      if (started !== undefined) self = String((JSON.parse(started) as { self: string }).self);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const first = requests;
    while (requests < first + 2) {
      if (Date.now() > deadline) throw new Error(`agent exported nothing: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const metrics = await (await fetch(`${self}/metrics`)).text();
    child.kill('SIGTERM');
    await exited;
    const rec = JSON.parse(readFileSync(out, 'utf8')) as { execArgv: string[]; urls: string[] };
    return { ...rec, metrics, stderr };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
}

const loaded = (r: Run, re: RegExp): string[] => r.urls.filter((u) => re.test(u));

/**
 * The gateway's modules an agent loaded, but for the key declarations the config schema composes
 * (`gateway/cluster/config.js`: the `cluster:` keys; `gateway/{store,ui,problems}/keys.js`: the
 * store's, the explorer's and problem detection's; data that imports no gateway code).
 */
const gatewayCode = (r: Run): string[] => loaded(r, /\/dist\/gateway\//).filter((u) => !/\/dist\/gateway\/(?:cluster\/config|(?:store|ui|problems)\/keys)\.js$/.test(u));

/** The agent's own modules (dist/) the run loaded that import node:http or node:https as an ES module. */
const esmHttpImports = (r: Run): string[] =>
  r.urls
    .filter((u) => u.startsWith('file:') && u.includes('/dist/') && u.endsWith('.js'))
    .filter((u) => /^import\s+(?!type\b)[^;]*from\s+'node:https?'/m.test(readFileSync(fileURLToPath(u), 'utf8')));

describe('the agent loads a library only where its feature is on', () => {
  let plain: Run;
  beforeAll(async () => {
    plain = await runAgent({});
  }, 60_000);

  it('with no CRI socket, config file, gateway or self-traces: none of their libraries', () => {
    expect(loaded(plain, /\/node_modules\/(protobufjs|@grpc|yaml|@opentelemetry|long)\//)).toEqual([]);
    expect(gatewayCode(plain)).toEqual([]);
    expect(loaded(plain, /\/dist\/sources\/container\/(cri-wire|cri-proto|grpc-over-http2)\.js$/)).toEqual([]);
  });

  it("undici's dispatchers only: not its index (fetch, WebSocket, cache, mocks)", () => {
    expect(loaded(plain, /\/node_modules\/undici\/lib\/dispatcher\/agent\.js$/).length).toBe(1);
    expect(loaded(plain, /\/node_modules\/undici\/index\.js$/)).toEqual([]);
    expect(loaded(plain, /\/node_modules\/undici\/lib\/(web|mock|cache)\//)).toEqual([]);
  });

  it('node:http is never imported as an ES module by the agent (it would load Node\'s own undici for WebSocket)', () => {
    expect(esmHttpImports(plain)).toEqual([]);
  });

  it('nor by the OTLP receiver, when it is on (cloudnative: the node sources and the receiver)', async () => {
    const r = await runAgent({ SEXTANT_MODE: 'cloudnative', SEXTANT_RECEIVER_HTTP_LISTEN: '127.0.0.1:0', SEXTANT_RECEIVER_GRPC_LISTEN: '127.0.0.1:0' });
    expect(loaded(r, /\/dist\/receiver\/listeners\.js$/).length).toBe(1);
    expect(esmHttpImports(r)).toEqual([]);
    expect(gatewayCode(r)).toEqual([]);
  }, 60_000);

  it('runs with the V8 limits though Node was started without them, and reports its memory three ways', () => {
    expect(plain.execArgv).toContain('--max-semi-space-size=2');
    for (const name of ['sextant_memory_rss_bytes', 'sextant_memory_rss_anon_bytes', 'sextant_memory_rss_file_bytes', 'sextant_memory_heap_limit_bytes']) {
      expect(plain.metrics).toMatch(new RegExp(`^${name} [1-9]`, 'm'));
    }
    // The working set where the agent has a memory cgroup (this machine's tests run in one).
    if (existsSync('/sys/fs/cgroup/memory') || existsSync('/sys/fs/cgroup/cgroup.controllers')) expect(plain.metrics).toMatch(/^sextant_memory_working_set_bytes [1-9]/m);
  });

  it('a config file brings the YAML parser, and its memory: setting the flags it asks for', async () => {
    const dir = join(tmp, 'yaml');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'sextant.yaml');
    writeFileSync(file, 'memory:\n  semiSpace: 3\n  oldSpace: 200MiB\n');
    const r = await runAgent({ SEXTANT_CONFIG: file });
    expect(loaded(r, /\/node_modules\/yaml\//).length).toBeGreaterThan(0);
    expect(r.execArgv.filter((a) => a.startsWith('--max-'))).toEqual(['--max-semi-space-size=3', '--max-old-space-size=200']);
    expect(r.metrics).toMatch(/^sextant_memory_heap_limit_bytes /m);
  }, 60_000);

  const criSock = process.env.CRI_SOCK ?? '/tmp/sextant-runtimes/containerd/containerd.sock';
  it.skipIf(!existsSync(criSock))('a CRI socket brings protobufjs and the gRPC framing', async () => {
    const r = await runAgent({ SEXTANT_CONTAINERS_CRI_SOCKETS: criSock, SEXTANT_LOGS_ENABLED: 'false' });
    expect(loaded(r, /\/node_modules\/protobufjs\//).length).toBeGreaterThan(0);
    expect(loaded(r, /\/dist\/sources\/container\/grpc-over-http2\.js$/).length).toBe(1);
  }, 60_000);
});
