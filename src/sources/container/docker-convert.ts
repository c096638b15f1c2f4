/**
 * Docker Engine API answers (container list, container inspect, event messages) mapped to the
 * runtime-neutral shapes of types.ts. Pure functions: no I/O, no state beyond the event line
 * splitter's buffer. The answers are untrusted input: every field is checked for its type and a
 * sane size; a field that fails is left undefined, and only an answer that cannot name a
 * container at all is a RuntimeError('docker', 'protocol'). Nothing here throws anything else.
 */
import { RuntimeError } from '../../errors.js';
import { NdjsonLines } from '../../io/ndjson-lines.js';
import { parseRfc3339Nano } from '../../io/rfc3339.js';
import { parseImageRef } from './image-ref.js';
import type { ContainerInfo, ContainerLimits, ContainerState, PodInfo, RuntimeEvent, RuntimeEventKind } from './types.js';

/** Names, pod coordinates, paths: longer than any real one (PATH_MAX is 4096). */
const MAX_SHORT_STRING = 4096;
const MAX_LABEL_KEY = 1024;
/** Kubernetes caps all annotations of an object at 256 KiB together; one label value above this is not one we use. */
const MAX_LABEL_VALUE = 64 * 1024;
const MAX_LABELS = 1024;
/** Linux PID_MAX_LIMIT. */
const MAX_PID = 4_194_304;
/** Docker's default CFS period (100 ms) when HostConfig.CpuPeriod is 0. */
const DEFAULT_CPU_PERIOD_US = 100_000;
const NS_PER_S = 1_000_000_000n;

const ID_RE = /^[0-9a-f]{64}$/;
const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** The label kubelet (dockershim) and cri-dockerd put on a container; cri-dockerd stores annotations as `annotation.<key>` labels. */
export const K8S_LABEL = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
  sandboxId: 'io.kubernetes.sandbox.id',
  dockerType: 'io.kubernetes.docker.type',
  restartCount: 'io.kubernetes.container.restartCount',
  restartCountAnnotation: 'annotation.io.kubernetes.container.restartCount',
} as const;

// ---------------------------------------------------------------------------------------------
// Field readers: each returns undefined for a wrong type or an absurd size.

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function str(v: unknown, max = MAX_SHORT_STRING): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined;
}

function nonEmpty(v: unknown, max = MAX_SHORT_STRING): string | undefined {
  const s = str(v, max);
  return s === undefined || s.length === 0 ? undefined : s;
}

function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

function positiveInt(v: unknown): number | undefined {
  const n = int(v);
  return n !== undefined && n > 0 ? n : undefined;
}

function containerId(v: unknown): string | undefined {
  return typeof v === 'string' && v.length === 64 && ID_RE.test(v) ? v : undefined;
}

/** A Docker time; undefined for the zero time (`0001-01-01T00:00:00Z`: never happened). */
function dockerTime(v: unknown): bigint | undefined {
  const s = str(v, 64);
  if (s === undefined) return undefined;
  const ns = parseRfc3339Nano(s);
  return ns !== undefined && ns > 0n ? ns : undefined;
}

/** A decimal integer in a string (label values, event attributes), at most 10 digits. */
function decimal(v: unknown): number | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > 11) return undefined;
  let i = v.charCodeAt(0) === 45 ? 1 : 0;
  if (i === v.length) return undefined;
  let n = 0;
  for (; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return v.charCodeAt(0) === 45 ? -n : n;
}

/** A string→string map; entries of another type or an absurd size are dropped, not the map. */
function labels(v: unknown): Readonly<Record<string, string>> {
  const o = obj(v);
  if (o === undefined) return EMPTY;
  const out: Record<string, string> = {};
  let count = 0;
  for (const key in o) {
    if (!Object.hasOwn(o, key)) continue;
    const value = o[key];
    if (key.length > MAX_LABEL_KEY || typeof value !== 'string' || value.length > MAX_LABEL_VALUE) continue;
    if (++count > MAX_LABELS) break;
    out[key] = value;
  }
  return count === 0 ? EMPTY : out;
}

/** Docker's state words to ours: paused and restarting keep a live cgroup, so they count as running. */
export function mapDockerState(status: unknown): ContainerState {
  switch (status) {
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'created':
      return 'created';
    case 'exited':
    case 'dead':
    case 'removing':
      return 'exited';
    default:
      return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// Bodies.

/**
 * A whole answer body as JSON. Invalid UTF-8 becomes U+FFFD (as Go's encoder would have
 * written it); a body that is not JSON is a protocol error.
 */
export function decodeJson(body: Uint8Array, what: string): unknown {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RuntimeError('docker', 'protocol', `${what}: answer is not JSON (${body.byteLength} bytes)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes on Docker (dockershim, cri-dockerd, minikube's docker driver).

function podFrom(id: string, containerLabels: Readonly<Record<string, string>>): PodInfo | undefined {
  const name = nonEmpty(containerLabels[K8S_LABEL.podName]);
  const namespace = nonEmpty(containerLabels[K8S_LABEL.podNamespace]);
  const uid = nonEmpty(containerLabels[K8S_LABEL.podUid]);
  if (name === undefined || namespace === undefined || uid === undefined) return undefined;
  const sandboxId = containerLabels[K8S_LABEL.dockerType] === 'podsandbox' ? id : containerId(containerLabels[K8S_LABEL.sandboxId]);
  const pod: { -readonly [K in keyof PodInfo]: PodInfo[K] } = { uid, name, namespace, labels: containerLabels, annotations: EMPTY };
  if (sandboxId !== undefined) pod.sandboxId = sandboxId;
  return pod;
}

/** kubelet's count of this container's restarts wins over Docker's (kubelet recreates, Docker never sees a restart). */
function kubeletRestartCount(containerLabels: Readonly<Record<string, string>>): number | undefined {
  const n = decimal(containerLabels[K8S_LABEL.restartCount]) ?? decimal(containerLabels[K8S_LABEL.restartCountAnnotation]);
  return n !== undefined && n >= 0 ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// Containers.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What list entries and inspections share: identity, image, labels, pod. */
function baseInfo(id: string, rawName: unknown, imageRef: unknown, imageId: unknown, containerLabels: Readonly<Record<string, string>>, restartCount: number, state: ContainerState): Mutable<ContainerInfo> {
  const info: Mutable<ContainerInfo> = {
    id,
    runtime: 'docker',
    name: dockerName(rawName) ?? id.slice(0, 12),
    state,
    restartCount,
    labels: containerLabels,
    annotations: EMPTY,
  };
  const ref = parseImageRef(str(imageRef));
  if (ref.name !== undefined) info.imageName = ref.name;
  if (ref.tag !== undefined) info.imageTags = [ref.tag];
  const image = nonEmpty(imageId, 512);
  if (image !== undefined) info.imageId = image;
  const pod = podFrom(id, containerLabels);
  if (pod !== undefined) {
    info.pod = pod;
    const k8sName = nonEmpty(containerLabels[K8S_LABEL.containerName]);
    if (k8sName !== undefined) info.name = k8sName;
    info.restartCount = kubeletRestartCount(containerLabels) ?? restartCount;
  }
  if (containerLabels[K8S_LABEL.dockerType] === 'podsandbox') info.sandbox = true;
  return info;
}

function dockerName(v: unknown): string | undefined {
  const s = nonEmpty(v);
  if (s === undefined) return undefined;
  const name = s.charCodeAt(0) === 47 ? s.slice(1) : s;
  return name.length > 0 ? name : undefined;
}

function limitsFrom(hostConfig: Json | undefined): ContainerLimits | undefined {
  if (hostConfig === undefined) return undefined;
  const limits: Mutable<ContainerLimits> = {};
  const memory = positiveInt(hostConfig['Memory']);
  if (memory !== undefined) limits.memoryBytes = memory;
  const nanoCpus = positiveInt(hostConfig['NanoCpus']);
  const quota = positiveInt(hostConfig['CpuQuota']);
  if (nanoCpus !== undefined) {
    limits.cpus = nanoCpus / 1e9;
  } else if (quota !== undefined) {
    limits.cpus = quota / (positiveInt(hostConfig['CpuPeriod']) ?? DEFAULT_CPU_PERIOD_US);
  }
  const pids = positiveInt(hostConfig['PidsLimit']);
  if (pids !== undefined) limits.pids = pids;
  return limits.memoryBytes === undefined && limits.cpus === undefined && limits.pids === undefined ? undefined : limits;
}

/** The key under which an inspection may be reused: the list's State and Created (seconds) did not change. */
export function reuseKey(state: string, createdSeconds: number): string {
  return `${state}|${createdSeconds}`;
}

export interface Inspection {
  readonly info: ContainerInfo;
  /** reuseKey() of the state and creation time this inspection saw. */
  readonly key: string;
}

/** GET /containers/{id}/json → ContainerInfo. A protocol error when the answer names no container. */
export function inspectionFromJson(value: unknown): Inspection {
  const c = obj(value);
  const id = containerId(c?.['Id']);
  if (c === undefined || id === undefined) {
    throw new RuntimeError('docker', 'protocol', 'container inspect: answer has no container id');
  }
  const stateObj = obj(c['State']);
  const config = obj(c['Config']);
  const rawState = str(stateObj?.['Status'], 64) ?? '';
  const state = mapDockerState(rawState);
  const restartCount = int(c['RestartCount']);
  const info = baseInfo(id, c['Name'], config?.['Image'], c['Image'], labels(config?.['Labels']), restartCount !== undefined && restartCount >= 0 ? restartCount : 0, state);

  const pid = positiveInt(stateObj?.['Pid']);
  if (pid !== undefined && pid <= MAX_PID) info.pid = pid;
  const created = dockerTime(c['Created']);
  if (created !== undefined) info.createdAtUnixNano = created;
  const started = dockerTime(stateObj?.['StartedAt']);
  if (started !== undefined) info.startedAtUnixNano = started;
  const finished = dockerTime(stateObj?.['FinishedAt']);
  if (finished !== undefined) info.finishedAtUnixNano = finished;
  if (state === 'exited') {
    const exitCode = int(stateObj?.['ExitCode']);
    if (exitCode !== undefined) info.exitCode = exitCode;
  }
  const oomKilled = stateObj?.['OOMKilled'];
  if (typeof oomKilled === 'boolean') info.oomKilled = oomKilled;
  const error = nonEmpty(stateObj?.['Error']);
  if (oomKilled === true) info.exitReason = 'OOMKilled';
  else if (error !== undefined) info.exitReason = error;
  const limits = limitsFrom(obj(c['HostConfig']));
  if (limits !== undefined) info.limits = limits;
  const logPath = nonEmpty(c['LogPath']);
  if (logPath !== undefined) info.logPath = logPath;

  const createdSeconds = created === undefined ? 0 : Number(created / NS_PER_S);
  return { info, key: reuseKey(rawState, createdSeconds) };
}

/** One entry of GET /containers/json, kept only as far as list() needs it. */
export interface ListEntry {
  readonly id: string;
  readonly key: string;
  /** The entry alone as a ContainerInfo (no pid, times or limits): used when an inspection fails. */
  readonly info: ContainerInfo;
}

/**
 * GET /containers/json → its entries. An answer that is not an array is a protocol error; an
 * entry without a valid id is skipped and counted in `malformed`.
 */
export function listFromJson(value: unknown): { entries: ListEntry[]; malformed: number } {
  if (!Array.isArray(value)) throw new RuntimeError('docker', 'protocol', 'container list: answer is not an array');
  const entries: ListEntry[] = [];
  let malformed = 0;
  for (const item of value as unknown[]) {
    const e = obj(item);
    const id = containerId(e?.['Id']);
    if (e === undefined || id === undefined) {
      malformed++;
      continue;
    }
    const rawState = str(e['State'], 64) ?? '';
    const createdSeconds = int(e['Created']) ?? 0;
    const names = e['Names'];
    const firstName = Array.isArray(names) ? (names as unknown[])[0] : undefined;
    const info = baseInfo(id, firstName, e['Image'], e['ImageID'], labels(e['Labels']), 0, mapDockerState(rawState));
    if (createdSeconds > 0) info.createdAtUnixNano = BigInt(createdSeconds) * NS_PER_S;
    entries.push({ id, key: reuseKey(rawState, createdSeconds), info });
  }
  return { entries, malformed };
}

// ---------------------------------------------------------------------------------------------
// Events.

/** The event actions watch() asks for, and what each becomes. */
export const WATCHED_ACTIONS: Readonly<Record<string, RuntimeEventKind>> = Object.freeze({
  create: 'create',
  start: 'start',
  die: 'exit',
  oom: 'oom',
  restart: 'restart',
  destroy: 'destroy',
});

/**
 * `timeNano` is a JSON number above 2^53: a double would round it to 256 ns. The reviver hands
 * back its source digits (JSON.parse source text access, V8 11.4+, Node ≥ 21) for an exact bigint.
 */
function keepTimeNanoSource(key: string, value: unknown, context?: { source?: string }): unknown {
  return key === 'timeNano' && typeof value === 'number' && typeof context?.source === 'string' ? context.source : value;
}

function eventTime(e: Json): bigint {
  const exact = e['timeNano'];
  if (typeof exact === 'string' && exact.length > 0 && exact.length <= 20) {
    let digits = true;
    for (let i = 0; i < exact.length; i++) {
      const d = exact.charCodeAt(i) - 48;
      if (d < 0 || d > 9) {
        digits = false;
        break;
      }
    }
    if (digits) return BigInt(exact);
  }
  if (typeof exact === 'number' && Number.isFinite(exact) && exact > 0) return BigInt(Math.round(exact));
  const seconds = positiveInt(e['time']);
  return seconds === undefined ? 0n : BigInt(seconds) * NS_PER_S;
}

/**
 * One line of GET /events → the event, 'ignored' (valid, but not a container event we watch),
 * or 'malformed' (not JSON, or not the documented shape).
 */
export function eventFromLine(line: string): RuntimeEvent | 'ignored' | 'malformed' {
  let value: unknown;
  try {
    value = JSON.parse(line, keepTimeNanoSource);
  } catch {
    return 'malformed';
  }
  const e = obj(value);
  if (e === undefined) return 'malformed';
  const type = e['Type'];
  const action = e['Action'];
  if (typeof type !== 'string' || typeof action !== 'string') return 'malformed';
  if (type !== 'container') return 'ignored';
  const kind = Object.hasOwn(WATCHED_ACTIONS, action) ? WATCHED_ACTIONS[action] : undefined;
  if (kind === undefined) return 'ignored';
  const actor = obj(e['Actor']);
  const id = containerId(actor?.['ID']) ?? containerId(e['id']);
  if (id === undefined) return 'malformed';
  const event: Mutable<RuntimeEvent> = { kind, runtime: 'docker', id, timeUnixNano: eventTime(e) };
  if (kind === 'exit') {
    const exitCode = decimal(obj(actor?.['Attributes'])?.['exitCode']);
    if (exitCode !== undefined) event.exitCode = exitCode;
  }
  return event;
}

/**
 * Docker's /events byte stream as lines (one JSON object per line), through the shared NDJSON
 * splitter: invalid UTF-8 is replaced (the JSON parse judges the line), surrounding whitespace
 * trimmed and blank lines skipped; a line longer than `maxLine` bytes is dropped whole and
 * reported once through `onOversize`.
 */
export class EventLineSplitter {
  readonly #lines: NdjsonLines;
  readonly #onLine: (line: string) => void;
  readonly #onOversize: () => void;

  constructor(maxLine: number, onLine: (line: string) => void, onOversize: () => void) {
    this.#lines = new NdjsonLines(maxLine, 'replace');
    this.#onLine = onLine;
    this.#onOversize = onOversize;
  }

  push(chunk: Buffer): void {
    this.#lines.push(chunk, this.#emit);
    const drops = this.#lines.drops;
    for (; drops.oversized > 0; drops.oversized--) this.#onOversize();
  }

  readonly #emit = (line: string): void => {
    const trimmed = line.trim();
    if (trimmed.length > 0) this.#onLine(trimmed);
  };
}
