#!/usr/bin/env node
/**
 * The soak run: real runtimes, a real `sextant gateway`, a fault proxy and a
 * real `sextant agent` in fullstack mode, driven for a while with numbered log lines, container
 * churn, rotation, endpoint outages, 503 storms and SIGKILLs; then checks from what the gateway
 * stored and writes soak-report.md + soak-chart.png. Exit status 1 when a check fails.
 *
 *   npm run soak -- --duration 2m        (docs/soak.md)
 */
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { USAGE, parseArgs } from './args.js';
import { CriDriver } from './cri.js';
import { FaultProxy } from './fault-proxy.js';
import { REPO, SextantProc, freePort, sampleProc, scrape } from './processes.js';
import { writeReport } from './report.js';
import { StoreReader, containerMetrics } from './store-reader.js';

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const IMAGE = 'docker.io/sextant-test/busybox:latest';
const TEST_LABEL = 'io.sextant.test';
/** Lines written between the copy and the truncate of a copytruncate: what it destroys by design. */
const RACE_LINES = 25;
const PAD = 'x'.repeat(56);

/** A small seeded PRNG (mulberry32): the churn schedule is the same for the same seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** busybox sh: `rate` numbered lines per second, `count` lines in all (then exit `code`), or forever. */
function writerScript(tag, rate, count, code) {
  const perTick = Math.max(1, Math.round(rate / 10));
  const tickUs = Math.round((1_000_000 * perTick) / rate);
  const limit = count ?? 2_000_000_000;
  return `i=0; while [ $i -lt ${limit} ]; do j=0; while [ $j -lt ${perTick} ] && [ $i -lt ${limit} ]; do echo "soak ${tag} $i ${PAD}"; i=$((i+1)); j=$((j+1)); done; usleep ${tickUs}; done; exit ${code ?? 0}`;
}

/** The highest `soak <tag> <n>` in some files (the writer's last line: its ground truth). */
function maxLine(files, tag) {
  const re = new RegExp(`soak ${tag} (\\d+) `, 'g');
  let max = -1;
  for (const f of files) {
    let text;
    try {
      text = readFileSync(f, 'latin1');
    } catch {
      continue;
    }
    for (const m of text.matchAll(re)) if (Number(m[1]) > max) max = Number(m[1]);
  }
  return max;
}

function listFiles(dir, prefix) {
  try {
    return readdirSync(dir)
      .filter((f) => f.startsWith(prefix))
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

function utcStamp(ms) {
  const d = new Date(ms).toISOString();
  return `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}-${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}`;
}

async function socketAnswers(p) {
  if (!existsSync(p)) return false;
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect(p);
    const t = setTimeout(() => (s.destroy(), resolve(false)), 2000);
    s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.once('error', () => (clearTimeout(t), resolve(false)));
  });
}

class Soak {
  constructor(o) {
    this.o = o;
    this.runId = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
    this.out = path.resolve(o.out);
    this.work = mkdtempSync(path.join(os.tmpdir(), 'sextant-soak-'));
    this.rand = prng(o.seed);
    this.timeline = [];
    this.containers = [];
    this.samples = [];
    this.cpuByPid = new Map();
    this.lifetimes = [];
    this.drops = new Map();
    this.counters = new Map();
    this.fileWriter = { tag: 'f0', next: 0, paused: false, raceRanges: [], copies: 0, timer: undefined };
    this.problems = [];
    this.pods = [];
    this.t0 = 0;
    this.cleanups = [];
  }

  now() {
    return Date.now() - this.t0;
  }

  note(what, extra = {}) {
    this.timeline.push({ t: this.now(), what, ...extra });
    process.stderr.write(`soak ${(this.now() / 1000).toFixed(1).padStart(6)} s  ${what}${extra.detail ? ` (${extra.detail})` : ''}\n`);
  }

  problem(what, err) {
    const msg = `${what}: ${err?.message ?? err}`;
    this.problems.push(msg);
    this.note(`PROBLEM ${msg}`);
  }

  // ---- setup -------------------------------------------------------------------------------

  async setup() {
    mkdirSync(this.out, { recursive: true });
    for (const f of readdirSync(this.out)) if (/^(agent-\d+\.log|gateway\.log|soak-report\.md|soak-chart\.png|samples\.csv|timeline\.json)$/.test(f)) rmSync(path.join(this.out, f));
    const setupStart = Date.now();
    const env = readEnv();
    const dockerUp = await socketAnswers(env.DOCKER_SOCK ?? '/var/run/docker.sock');
    const criUp = await socketAnswers(env.CRI_SOCK ?? '/tmp/sextant-runtimes/containerd/containerd.sock');
    this.startedRuntimes = !(dockerUp && criUp);
    // One retry: setup.sh can fail transiently while another process imports the same images
    // ("images missing from containerd after import", seen with helpers sharing the runtimes).
    const setup = () => run('bash', [path.join(REPO, 'test/runtimes/setup.sh')], { maxBuffer: 1 << 20 });
    const { stdout } = await setup().catch(async (err) => {
      process.stderr.write(`soak: setup.sh failed, retrying once: ${String(err.stderr ?? err).trim().split('\n').pop()}\n`);
      await sleep(2_000);
      return setup();
    });
    this.rt = Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    this.setupRuntimesMs = Date.now() - setupStart;
    this.madePodsDir = !existsSync('/var/log/pods');
    mkdirSync('/var/log/pods', { recursive: true });

    this.gwData = path.join(this.work, 'gateway-data');
    const gwPort = await freePort();
    this.gateway = new SextantProc(['gateway'], {
      cwd: this.work,
      logFile: path.join(this.out, 'gateway.log'),
      env: { SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${gwPort}`, SEXTANT_GATEWAY_DATA_DIR: this.gwData, SEXTANT_GATEWAY_NDJSON: 'true', SEXTANT_LISTEN: '127.0.0.1:0', SEXTANT_LOG_LEVEL: 'info' },
    });
    await this.gateway.ready('gateway listening');
    this.proxy = await new FaultProxy(`http://127.0.0.1:${gwPort}`).start();
    this.reader = new StoreReader(this.gwData);

    this.appDir = path.join(this.work, 'app');
    mkdirSync(this.appDir);
    this.appLog = path.join(this.appDir, 'app.log');
    writeFileSync(this.appLog, '');
    this.agentPort = await freePort();
    this.agentEnv = {
      SEXTANT_MODE: 'fullstack',
      SEXTANT_ENDPOINT: this.proxy.url,
      SEXTANT_HOST_ROOT: '/',
      SEXTANT_STATE_DIR: path.join(this.work, 'state'),
      SEXTANT_INTERVAL: `${this.o.intervalMs}ms`,
      SEXTANT_LISTEN: `127.0.0.1:${this.agentPort}`,
      SEXTANT_SUMMARY_INTERVAL: '0',
      SEXTANT_LOG_LEVEL: 'info',
      SEXTANT_NODE_NAME: 'soak-node',
      SEXTANT_CONTAINERS_DOCKER_SOCKETS: this.rt.DOCKER_SOCK,
      SEXTANT_CONTAINERS_CRI_SOCKETS: this.rt.CRI_SOCK,
      SEXTANT_LOGS_GLOBS: `${this.appDir}/*.log`,
      // A 25 s outage with the default 30 s max backoff could leave the agent idle for half a
      // minute after the endpoint is back; 5 s keeps the 2-minute run's catch-up inside it.
      SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '5s',
      ...this.o.agentEnv,
    };
    this.agentCount = 0;
    this.cri = new CriDriver({ socketPath: this.rt.CRI_SOCK, image: this.rt.BUSYBOX_IMAGE ?? IMAGE });
  }

  async startAgent() {
    const k = this.agentCount++;
    const a = new SextantProc(['agent'], { cwd: this.work, logFile: path.join(this.out, `agent-${k}.log`), env: this.agentEnv });
    this.agent = a;
    this.lifetimes.push({ pid: a.pid, startedAt: this.now(), endedAt: undefined, how: undefined });
    await a.ready('agent started', 60_000);
    this.note(`agent ${k} started`, { detail: `pid ${a.pid}` });
  }

  /** Last sample, /metrics scrape, then the signal: a lifetime's CPU and drop counters are kept. */
  async endAgent(signal) {
    const a = this.agent;
    await this.#scrapeInto();
    const s = await sampleProc(a.pid);
    if (s) this.cpuByPid.set(a.pid, s.cpuSeconds);
    const info = await a.stop(signal);
    const life = this.lifetimes.find((l) => l.pid === a.pid);
    life.endedAt = this.now();
    life.how = signal;
    life.exit = info;
  }

  async #scrapeInto() {
    const m = await scrape(`http://127.0.0.1:${this.agentPort}/metrics`);
    if (m === undefined) {
      this.scrapeFailures = (this.scrapeFailures ?? 0) + 1;
      return;
    }
    for (const [k, v] of m) {
      if (k.startsWith('sextant_pipeline_dropped_total')) this.drops.set(k, (this.drops.get(k) ?? 0) + v);
      else if (/^sextant_(export_retries_total|export_requests_total|logs_problems_total|export_records_total)/.test(k)) this.counters.set(k, (this.counters.get(k) ?? 0) + v);
    }
  }

  // ---- writers -------------------------------------------------------------------------------

  async startDocker(tag, rate, { count, code, memory } = {}) {
    const name = `soak-${this.runId}-${tag}`;
    const args = ['run', '-d', '--name', name, '--label', `${TEST_LABEL}=1`, '--label', `io.sextant.soak=${this.runId}`, '--network', 'none'];
    args.push('--log-driver', 'json-file', '--log-opt', 'max-size=256k', '--log-opt', 'max-file=50');
    if (memory) args.push('--memory', memory, '--memory-swap', memory);
    const script = memory ? `echo "soak ${tag} 0 ${PAD}"; sleep 2; exec dd if=/dev/zero of=/dev/null bs=64M count=1` : writerScript(tag, rate, count, code);
    args.push(IMAGE, 'sh', '-c', script);
    const { stdout } = await run('docker', args);
    const id = stdout.trim();
    const c = { tag, kind: 'docker', id, name, startedAt: this.now(), stoppedAt: undefined, oom: Boolean(memory), selfExit: count !== undefined || Boolean(memory), expectedMax: undefined };
    this.containers.push(c);
    this.note(`docker start ${tag}`, { detail: memory ? `memory ${memory}, will be OOM-killed` : count !== undefined ? `${count} lines then exit ${code}` : `${rate} lines/s` });
    return c;
  }

  async startCri(podId, tag, rate, { count, code, memoryBytes } = {}) {
    const script = memoryBytes ? `echo "soak ${tag} 0 ${PAD}"; sleep 2; exec dd if=/dev/zero of=/dev/null bs=64M count=1` : writerScript(tag, rate, count, code);
    const { id, logDir } = await this.cri.addContainer(podId, { name: `w-${tag}`, command: ['sh', '-c', script], memoryLimitBytes: memoryBytes });
    const c = { tag, kind: 'cri', id, name: `w-${tag}`, logDir, startedAt: this.now(), stoppedAt: undefined, oom: Boolean(memoryBytes), selfExit: count !== undefined || Boolean(memoryBytes), expectedMax: undefined };
    this.containers.push(c);
    this.note(`cri start ${tag}`, { detail: memoryBytes ? 'memory 16 MiB, will be OOM-killed' : count !== undefined ? `${count} lines then exit ${code}` : `${rate} lines/s` });
    return c;
  }

  async stopContainer(c) {
    if (c.stoppedAt !== undefined) return;
    if (c.kind === 'docker') await run('docker', ['kill', c.id]).catch(() => undefined);
    else await this.cri.stopContainer(c.id);
    c.stoppedAt = this.now();
    c.killedBySoak = true;
    this.note(`${c.kind} kill ${c.tag}`);
  }

  /** Whether the container's process has exited (a self-exiting writer), and when we first saw it. */
  async refreshExited(c) {
    if (c.stoppedAt !== undefined) return true;
    try {
      if (c.kind === 'docker') {
        const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Running}} {{.State.ExitCode}} {{.State.OOMKilled}}', c.id]);
        const [running, code, oom] = stdout.trim().split(' ');
        if (running === 'true') return false;
        c.exitCode = Number(code);
        c.oomKilled = oom === 'true';
      } else {
        const s = await this.cri.status(c.id);
        if (s.state !== 2 && s.state !== 'CONTAINER_EXITED') return false;
        c.exitCode = s.exitCode;
        c.oomKilled = s.reason === 'OOMKilled';
      }
    } catch {
      return false;
    }
    c.stoppedAt = this.now();
    this.note(`${c.kind} exited ${c.tag}`, { detail: `code ${c.exitCode}${c.oomKilled ? ', OOMKilled' : ''}` });
    return true;
  }

  /** Reads the writer's last line from its log files (before removal: they go with it). */
  groundTruth(c) {
    if (c.expectedMax !== undefined) return;
    const files = c.kind === 'docker' ? listFiles(`/var/lib/docker/containers/${c.id}`, `${c.id}-json.log`) : listFiles(c.logDir, '0.log');
    c.expectedMax = maxLine(files, c.tag);
  }

  async removeContainer(c) {
    this.groundTruth(c);
    if (c.kind === 'docker') await run('docker', ['rm', '-f', '-v', c.id]).catch((err) => this.problem(`docker rm ${c.tag}`, err));
    else await this.cri.removeContainer(c.id).catch((err) => this.problem(`cri rm ${c.tag}`, err));
    c.removed = true;
    this.note(`${c.kind} remove ${c.tag}`, { detail: `last line ${c.expectedMax}` });
  }

  fileTick(perTick) {
    const w = this.fileWriter;
    if (w.paused) return;
    let chunk = '';
    for (let k = 0; k < perTick; k++) chunk += `soak ${w.tag} ${w.next++} ${PAD}\n`;
    appendFileSync(this.appLog, chunk);
  }

  /**
   * logrotate's copytruncate: copy the file, then truncate it. Lines written between the two are
   * destroyed by design; RACE_LINES are written exactly there, so the loss is known. Before the
   * copy the writer pauses until the gateway holds its last line, so no other line can be lost.
   */
  async copytruncate() {
    const w = this.fileWriter;
    w.paused = true;
    const last = w.next - 1;
    const deadline = Date.now() + 20_000;
    while (this.reader.tag(w.tag).max < last && Date.now() < deadline) await sleep(250);
    const caughtUp = this.reader.tag(w.tag).max >= last;
    copyFileSync(this.appLog, `${this.appLog}.${++w.copies}`);
    const from = w.next;
    let chunk = '';
    for (let k = 0; k < RACE_LINES; k++) chunk += `soak ${w.tag} ${w.next++} ${PAD}\n`;
    appendFileSync(this.appLog, chunk);
    truncateSync(this.appLog, 0);
    w.raceRanges.push([from, w.next - 1]);
    w.paused = false;
    this.note('copytruncate app.log', { detail: `lines ${from}-${w.next - 1} written between copy and truncate${caughtUp ? '' : '; agent had NOT caught up within 20 s'}` });
  }

  // ---- the run ---------------------------------------------------------------------------------

  schedule() {
    const D = this.o.durationMs;
    const cycles = Math.max(1, Math.round(D / 120_000));
    const L = D / cycles;
    const acts = [];
    const at = (t, name, fn) => acts.push({ t: Math.round(t), name, fn });
    this.kills = [];
    this.outages = [];
    this.storms = [];
    for (let k = 0; k < cycles; k++) {
      const c0 = k * L;
      // Three SIGKILLs per cycle: a plain one, one while a new container starts, one while the
      // CRI log is rotated (both happen in the second the agent is down).
      const downtime = [undefined, () => this.startDocker(`d${k}k`, Math.round(this.o.rate * 0.125), { count: Math.round(this.o.rate * 0.125 * 12), code: 0 }), () => this.rotateCri()];
      [0.1, 0.78, 0.92].forEach((f, i) => {
        this.kills.push(c0 + f * L);
        at(c0 + f * L, 'kill -9 agent', () => this.killAgent(downtime[i]));
      });
      at(c0 + 0.22 * L, 'copytruncate', () => void this.copytruncate().catch((err) => this.problem('copytruncate', err)));
      const outLen = Math.min(25_000, Math.max(20_000, 0.2 * L));
      this.outages.push([c0 + 0.3 * L, c0 + 0.3 * L + outLen]);
      at(c0 + 0.3 * L, 'endpoint down', async () => (await this.proxy.down(), this.note('endpoint down (proxy closed)', { detail: `${outLen / 1000} s` })));
      at(c0 + 0.3 * L + outLen, 'endpoint up', async () => (await this.proxy.up(), this.note('endpoint up')));
      const stormLen = Math.min(15_000, 0.1 * L);
      this.storms.push([c0 + 0.6 * L, c0 + 0.6 * L + stormLen]);
      at(c0 + 0.6 * L, '503 storm', () => (this.proxy.storm(503, 2), this.note('503 storm (Retry-After: 2)', { detail: `${stormLen / 1000} s` })));
      at(c0 + 0.6 * L + stormLen, '503 storm over', () => (this.proxy.pass(), this.note('503 storm over')));
      for (const f of [0.25, 0.5, 0.75]) at(c0 + f * L, 'rotate cri c0', () => this.rotateCri());
      at(c0 + 0.4 * L, 'docker OOM container', () => this.startDocker(`o${k}d`, 0, { memory: '16m' }));
      at(c0 + 0.55 * L, 'cri OOM container', () => this.startCri(this.churnPod, `o${k}c`, 0, { memoryBytes: 16 * 1024 * 1024 }));
    }
    // Churn: a short-lived writer every L/8, alternately Docker and CRI, living 10-25 s; a third
    // exit on their own with a code, the rest are killed. None ends within 4 s of a planned
    // SIGKILL: an exit the agent is not running to see is a different question (docs/soak.md).
    const churnRate = Math.round(this.o.rate * 0.125);
    const clear = (t) => this.kills.every((k) => Math.abs(t - k) > 4_000 && !(t > k && t < k + 8_000));
    let n = 0;
    for (let t = 4_000; t < D - 14_000; t += L / 8) {
      const kind = n % 2 === 0 ? 'docker' : 'cri';
      const tag = `${kind === 'docker' ? 'd' : 'c'}${10 + n}`;
      let life = 10_000 + Math.floor(this.rand() * 15_000);
      while (!clear(t + life) && life < 40_000) life += 1_000;
      if (t + life > D - 2_000) life = Math.max(8_000, D - 2_000 - t);
      const selfExit = n % 3 === 2;
      const code = n % 2 === 0 ? 3 : 0;
      const count = Math.round((churnRate * life) / 1000);
      at(t, `churn start ${tag}`, async () => {
        const c = kind === 'docker' ? await this.startDocker(tag, churnRate, selfExit ? { count, code } : {}) : await this.startCri(this.churnPod, tag, churnRate, selfExit ? { count, code } : {});
        if (!selfExit) setTimeout(() => void this.stopContainer(c).catch((err) => this.problem(`stop ${tag}`, err)), life).unref();
      });
      n++;
    }
    return acts.sort((a, b) => a.t - b.t);
  }

  async rotateCri() {
    const c = this.longCri;
    const stamp = utcStamp(Date.now());
    await this.cri.rotate(c.logDir, c.id, stamp);
    this.note('cri rotate c0 (rename + ReopenContainerLog)', { detail: `0.log.${stamp}` });
  }

  /** SIGKILL, `whileDown` (if any) while no agent runs, restart a second after the kill. */
  async killAgent(whileDown) {
    const pid = this.agent.pid;
    await this.endAgent('SIGKILL');
    const downAt = Date.now();
    this.note('kill -9 agent', { detail: `pid ${pid}` });
    if (whileDown) await whileDown().catch((err) => this.problem('action while the agent is down', err));
    await sleep(Math.max(0, 1_000 - (Date.now() - downAt)));
    await this.startAgent();
  }

  /** Exited containers are removed once the agent had two intervals to see the exit. */
  async reap() {
    for (const c of this.containers) {
      if (c.removed || c === this.longCri) continue;
      if (c.stoppedAt === undefined && !(c.selfExit && (await this.refreshExited(c)))) continue;
      if (this.now() - c.stoppedAt > 2 * this.o.intervalMs + 3_000) await this.removeContainer(c);
    }
  }

  async sampleLoop(stopped) {
    while (!stopped.done) {
      const a = this.agent;
      if (a?.alive) {
        const s = await sampleProc(a.pid);
        if (s) {
          this.samples.push({ t: this.now(), pid: a.pid, rss: s.rssBytes, cpu: s.cpuSeconds });
          this.cpuByPid.set(a.pid, s.cpuSeconds);
        }
      }
      await this.reader.poll().catch((err) => this.problem('store read', err));
      await sleep(1_000);
    }
  }

  async drive() {
    this.t0 = Date.now();
    await this.startAgent();
    // Long-lived writers: two Docker containers, one CRI pod container, one plain file.
    const R = this.o.rate;
    this.longPod = await this.cri.runPod({ name: 'soak-long', namespace: `soak-${this.runId}`, uid: `5aa50000-0000-4000-8000-${this.runId.padStart(12, '0').slice(-12)}` });
    this.churnPod = await this.cri.runPod({ name: 'soak-churn', namespace: `soak-${this.runId}`, uid: `5aa50000-0000-4000-8001-${this.runId.padStart(12, '0').slice(-12)}` });
    this.pods.push(this.longPod, this.churnPod);
    await this.startDocker('d0', Math.round(R * 0.25));
    await this.startDocker('d1', Math.round(R * 0.15));
    this.longCri = await this.startCri(this.longPod, 'c0', Math.round(R * 0.25));
    const filePerTick = Math.max(1, Math.round((R * 0.1) / 10));
    this.fileWriter.timer = setInterval(() => this.fileTick(filePerTick), 100);

    const stopped = { done: false };
    const sampling = this.sampleLoop(stopped);
    const acts = this.schedule();
    let reapAt = 0;
    for (const act of acts) {
      for (;;) {
        const wait = act.t - this.now();
        if (wait <= 0) break;
        if (this.now() >= reapAt) {
          reapAt = this.now() + 2_000;
          await this.reap().catch((err) => this.problem('reap', err));
        }
        await sleep(Math.min(wait, 500));
      }
      try {
        await act.fn();
      } catch (err) {
        this.problem(act.name, err);
      }
    }
    while (this.now() < this.o.durationMs) {
      await this.reap().catch((err) => this.problem('reap', err));
      await sleep(Math.min(1_000, Math.max(0, this.o.durationMs - this.now())));
    }
    this.runMs = this.now();
    this.note('load over: stopping every writer');

    // Stop writers; the agent must see each exit (two intervals), then the ground truth is read.
    clearInterval(this.fileWriter.timer);
    this.fileWriter.paused = true;
    for (const c of this.containers) if (!c.removed && c.stoppedAt === undefined && !(c.selfExit && (await this.refreshExited(c)))) await this.stopContainer(c);
    // The runtimes copy a killed writer's last output to its log a moment after the kill.
    await sleep(1_000);
    for (const c of this.containers) if (!c.removed && !c.selfExit) this.groundTruth(c);
    for (const c of this.containers) if (!c.removed && c.selfExit) await this.refreshExited(c);
    for (const c of this.containers) this.groundTruth(c);

    const deadline = Date.now() + this.o.drainMs;
    for (;;) {
      await this.reader.poll();
      if (this.complete() || Date.now() > deadline) break;
      await sleep(1_000);
    }
    this.drainMs = this.now() - this.runMs;
    this.note(`drain ${this.complete() ? 'complete' : 'deadline passed'}`, { detail: `${(this.drainMs / 1000).toFixed(1)} s` });
    await this.endAgent('SIGTERM');
    stopped.done = true;
    await sampling;
    await this.gateway.stop('SIGTERM');
    await this.reader.poll();
  }

  expectedTags() {
    const out = this.containers.filter((c) => !c.oom).map((c) => [c.tag, c.expectedMax]);
    out.push([this.fileWriter.tag, this.fileWriter.next - 1]);
    return out;
  }

  expectedEvents() {
    const out = [];
    for (const c of this.containers) {
      if (c.stoppedAt === undefined) continue;
      out.push({ c, event: 'container.exit' });
      if (c.oom) out.push({ c, event: 'container.oom' });
    }
    return out;
  }

  isRace(n) {
    return this.fileWriter.raceRanges.some(([a, b]) => n >= a && n <= b);
  }

  complete() {
    for (const [tag, max] of this.expectedTags()) {
      const t = this.reader.tag(tag);
      for (let n = 0; n <= max; n++) if (t.get(n) === 0 && !(tag === this.fileWriter.tag && this.isRace(n))) return false;
    }
    return this.expectedEvents().every(({ c, event }) => this.reader.events.has(`${event} ${c.id}`));
  }

  // ---- checks ----------------------------------------------------------------------------------

  async check() {
    const checks = [];
    const add = (name, pass, value, detail = '') => checks.push({ name, pass, value, detail });
    const R = this.o.rate;
    let written = 0;
    let lost = 0;
    let raceLost = 0;
    let raceTotal = 0;
    let dups = 0;
    const lostBy = [];
    for (const [tag, max] of this.expectedTags()) {
      const t = this.reader.tag(tag);
      written += max + 1;
      let tagLost = 0;
      let firstLost = -1;
      const ranges = [];
      for (let n = 0; n <= max; n++) {
        const k = t.get(n);
        if (k > 1) dups += k - 1;
        if (tag === this.fileWriter.tag && this.isRace(n)) {
          raceTotal++;
          if (k === 0) raceLost++;
          continue;
        }
        if (k === 0) {
          tagLost++;
          if (ranges.length > 0 && ranges[ranges.length - 1][1] === n - 1) ranges[ranges.length - 1][1] = n;
          else ranges.push([n, n]);
          if (firstLost < 0) firstLost = n;
        }
      }
      // Lines past the writer's last known line (should not exist) would be a ground-truth error.
      if (t.max > max) this.problem(`ground truth ${tag}`, `stored line ${t.max} > last written ${max}`);
      if (tagLost > 0) lostBy.push(`${tag}: ${tagLost} (${ranges.slice(0, 4).map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(', ')}${ranges.length > 4 ? ', …' : ''})`);
      lost += tagLost;
    }
    this.written = written;
    add('log lines lost', lost === 0, `${lost} of ${written}`, lostBy.join('; ') || 'every numbered line of every writer was stored');
    add('lines destroyed by copytruncate (expected, not counted as lost)', true, `${raceLost} of ${raceTotal}`, `${this.fileWriter.raceRanges.length} copytruncate(s), ${RACE_LINES} lines written between copy and truncate each; the ones the agent read before the truncate were stored`);
    const kills = this.lifetimes.filter((l) => l.how === 'SIGKILL').length;
    const outages = this.outages.length;
    const bound = Math.round(kills * R * 3 + outages * 2 * 2000);
    add('duplicate log lines', dups <= bound, `${dups} (${kills > 0 ? (dups / kills).toFixed(0) : 0} per kill)`, `bound ${bound} = ${kills} kills × ${R} lines/s × 3 s (checkpoint interval 1 s + linger 1 s + export, BENCHMARKS.md "at least once across crashes") + ${outages} outages × 2 requests in flight × 2,000 lines`);

    const lived = this.containers.filter((c) => c.stoppedAt !== undefined && c.stoppedAt - c.startedAt > 2 * this.o.intervalMs);
    const metrics = await containerMetrics(this.gwData, lived.map((c) => c.id));
    const noMetrics = lived.filter((c) => {
      const names = metrics.get(c.id);
      return !(names.has('container.cpu.time') || names.has('container.memory.usage'));
    });
    add('container metrics for every container alive > 2 intervals', noMetrics.length === 0, `${lived.length - noMetrics.length} of ${lived.length}`, noMetrics.map((c) => `${c.kind} ${c.tag} ${c.id.slice(0, 12)} (lived ${((c.stoppedAt - c.startedAt) / 1000).toFixed(0)} s)`).join('; ') || 'container.cpu.time / container.memory.usage with container.id');

    const exits = this.expectedEvents().filter((e) => e.event === 'container.exit');
    const missExit = exits.filter(({ c }) => !this.reader.events.has(`container.exit ${c.id}`));
    add('container.exit event for every exit', missExit.length === 0, `${exits.length - missExit.length} of ${exits.length}`, missExit.map(({ c }) => `${c.kind} ${c.tag} ${c.id.slice(0, 12)} exited at ${(c.stoppedAt / 1000).toFixed(0)} s`).join('; '));
    const ooms = this.expectedEvents().filter((e) => e.event === 'container.oom');
    const missOom = ooms.filter(({ c }) => !this.reader.events.has(`container.oom ${c.id}`));
    const notOomKilled = this.containers.filter((c) => c.oom && c.oomKilled === false);
    add('container.oom event for every OOM kill', missOom.length === 0 && ooms.length > 0, `${ooms.length - missOom.length} of ${ooms.length}`, [...missOom.map(({ c }) => `${c.kind} ${c.tag} ${c.id.slice(0, 12)}`), ...notOomKilled.map((c) => `(runtime did not report ${c.tag} OOMKilled)`)].join('; '));

    const peak = this.samples.reduce((m, s) => Math.max(m, s.rss), 0);
    add('agent peak RSS', peak > 0 && peak <= this.o.maxRssMb * 1048576, `${(peak / 1048576).toFixed(1)} MiB`, `sampled every second over ${this.lifetimes.length} agent processes; limit ${this.o.maxRssMb} MiB (--max-rss-mb)`);
    const cpu = [...this.cpuByPid.values()].reduce((a, b) => a + b, 0);
    const agentWall = this.lifetimes.reduce((a, l) => a + ((l.endedAt ?? this.now()) - l.startedAt), 0) / 1000;
    add('agent CPU seconds', true, `${cpu.toFixed(1)} s`, `utime+stime summed over every agent lifetime: ${((100 * cpu) / agentWall).toFixed(1)} % of one core over ${agentWall.toFixed(0)} s`);
    const dropList = [...this.drops].filter(([, v]) => v > 0);
    const logDrops = dropList.filter(([k]) => /signal="(logs|events)"/.test(k)).reduce((a, [, v]) => a + v, 0);
    add('agent drops by reason (logs/events must be 0)', logDrops === 0, dropList.length === 0 ? '0' : dropList.map(([k, v]) => `${k.replace('sextant_pipeline_dropped_total', '')} ${v}`).join(', '), `sextant_pipeline_dropped_total scraped before each kill and at the end${this.scrapeFailures ? ` (${this.scrapeFailures} scrapes failed)` : ''}`);

    const planned = this.kills.length;
    const started = this.lifetimes.length;
    add('agent killed with SIGKILL and restarted', kills === planned && started === planned + 1, `${kills} kills, ${started} starts`, this.lifetimes.map((l) => `${l.pid} ${(l.startedAt / 1000).toFixed(0)}-${((l.endedAt ?? 0) / 1000).toFixed(0)} s ${l.how}`).join('; '));
    const s503 = this.proxy.counts.get(503) ?? 0;
    add('faults injected', s503 > 0 && outages > 0, `${outages} outages, ${this.storms.length} storms (${s503} requests answered 503)`, [...this.proxy.counts].map(([k, v]) => `${k}: ${v}`).join(', '));
    add('soak harness ran without problems', this.problems.length === 0, `${this.problems.length}`, this.problems.slice(0, 5).join('; '));
    this.checks = checks;
    return checks;
  }

  // ---- teardown --------------------------------------------------------------------------------

  async teardown() {
    clearInterval(this.fileWriter.timer);
    if (this.agent?.alive) await this.agent.stop('SIGKILL').catch(() => undefined);
    if (this.gateway?.alive) await this.gateway.stop('SIGTERM').catch(() => undefined);
    await this.proxy?.close().catch(() => undefined);
    const { stdout } = await run('docker', ['ps', '-aq', '--filter', `label=io.sextant.soak=${this.runId}`]).catch(() => ({ stdout: '' }));
    const ids = stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await run('docker', ['rm', '-f', '-v', ...ids]).catch(() => undefined);
    await this.cri?.close().catch(() => undefined);
    if (this.madePodsDir) await rmdir('/var/log/pods').catch(() => undefined);
    if (this.startedRuntimes) await run('bash', [path.join(REPO, 'test/runtimes/teardown.sh')]).catch(() => undefined);
  }
}

function readEnv() {
  const file = `${process.env.SEXTANT_RUNTIMES_DIR ?? '/tmp/sextant-runtimes'}/env`;
  try {
    return Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!existsSync(path.join(REPO, 'dist/cli/sextant.js'))) {
    process.stderr.write('soak: dist/ is missing: run `npm run build` first\n');
    return 2;
  }
  const wallStart = Date.now();
  const soak = new Soak(o);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('soak: interrupted, tearing down\n');
    void soak.teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let ok = false;
  try {
    await soak.setup();
    await soak.drive();
    const checks = await soak.check();
    ok = checks.every((c) => c.pass);
    soak.wallMs = Date.now() - wallStart;
    writeReport(soak);
    process.stderr.write(`soak: ${ok ? 'PASS' : 'FAIL'}: report in ${path.join(soak.out, 'soak-report.md')}\n`);
  } catch (err) {
    process.stderr.write(`soak: harness failure: ${err.stack ?? err}\n`);
  } finally {
    await soak.teardown();
    if (ok && !o.keepData) rmSync(soak.work, { recursive: true, force: true });
    else process.stderr.write(`soak: gateway store and agent state kept in ${soak.work}\n`);
  }
  process.stderr.write(`soak: total wall ${((Date.now() - wallStart) / 1000).toFixed(1)} s\n`);
  return ok ? 0 : 1;
}

process.exit(await main());
