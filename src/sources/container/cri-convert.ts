import { parseImageRef } from './image-ref.js';
import type { ContainerInfo, ContainerLimits, ContainerState, PodInfo, RuntimeName } from './types.js';

/**
 * Decoded CRI v1 messages (protobufjs objects from cri-proto.ts, camelCase fields) mapped to
 * ContainerInfo. Pure: no I/O, no clock. Every input is treated as `unknown`, because a runtime
 * can send anything that decodes (a wrong-typed JSON `info`, a 1 MiB name, a negative
 * timestamp): an odd field becomes undefined, an entry without a usable id becomes undefined
 * (and is counted), and nothing here throws.
 */

/** Counts what the mapping had to drop or could not read; the client sums it into `malformed`. */
export interface ConvertNotes {
  malformed: number;
}

/** Container and sandbox ids: containerd and CRI-O use 64 hex; allow other runtimes' shapes, bounded. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Names, namespaces, uids, image references, reasons, paths: far above any real one. */
const MAX_TEXT = 4096;
/** Label keys: 253 prefix + `/` + 63 name in Kubernetes. */
const MAX_MAP_KEY = 320;
/** One annotation value (Kubernetes caps all of a pod's annotations at 256 KiB together). */
const MAX_MAP_VALUE = 256 * 1024;
const MAX_MAP_ENTRIES = 1024;
/** The verbose `info` JSON holds the whole OCI runtime spec (~10–30 KiB); more is not a real one. */
const MAX_INFO_JSON = 4 * 1024 * 1024;
/** Linux PID_MAX_LIMIT. */
const MAX_PID = 4_194_304;
const INT64_LIMIT = 1n << 63n;
/** Limits at or above this are the kernel's "unlimited" (page-rounded 2^63 - 1). */
const UNLIMITED_BYTES = 2 ** 62;

const EMPTY_MAP: Readonly<Record<string, string>> = Object.freeze({});

const CONTAINER_STATES: readonly ContainerState[] = ['created', 'running', 'exited', 'unknown'];

type Obj = Readonly<Record<string, unknown>>;

function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function text(value: unknown, max = MAX_TEXT): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

/** A CRI id, or undefined when missing or not id-shaped. */
export function criId(value: unknown): string | undefined {
  return typeof value === 'string' && ID_PATTERN.test(value) ? value : undefined;
}

/** A non-negative integer no larger than `max` (proto uint32/int32 fields, JSON numbers). */
function count(value: unknown, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max ? value : undefined;
}

/**
 * int64 as protobufjs hands it over: a Long ({low, high, unsigned}), or a number when small, or a
 * bigint/decimal string from elsewhere. Returns the signed value, undefined when unreadable.
 */
function int64(value: unknown): bigint | undefined {
  switch (typeof value) {
    case 'bigint':
      return value;
    case 'number':
      return Number.isSafeInteger(value) ? BigInt(value) : undefined;
    case 'string':
      return /^-?[0-9]{1,20}$/.test(value) ? BigInt(value) : undefined;
    case 'object': {
      const long = obj(value);
      if (long === undefined || typeof long['low'] !== 'number' || typeof long['high'] !== 'number') return undefined;
      const bits = (BigInt((long['high'] as number) >>> 0) << 32n) | BigInt((long['low'] as number) >>> 0);
      return long['unsigned'] === true ? bits : BigInt.asIntN(64, bits);
    }
    default:
      return undefined;
  }
}

/** A timestamp in ns: 0 (proto's "not set"), negative or out of int64 range → undefined. */
export function criNanos(value: unknown): bigint | undefined {
  const ns = int64(value);
  return ns !== undefined && ns > 0n && ns < INT64_LIMIT ? ns : undefined;
}

/** A positive int64 that fits a JS number exactly (limits, quotas), else undefined. */
function positiveNumber(value: unknown): number | undefined {
  const v = int64(value);
  if (v === undefined || v <= 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(v);
}

/**
 * A copy of a proto map<string,string> keeping only sane entries. Copied rather than shared so
 * the result holds no protobufjs object; `__proto__` is skipped so a runtime cannot give the copy
 * an odd prototype.
 */
function stringMap(value: unknown): Readonly<Record<string, string>> {
  const src = obj(value);
  if (src === undefined) return EMPTY_MAP;
  let out: Record<string, string> | undefined;
  let n = 0;
  for (const key of Object.keys(src)) {
    if (n >= MAX_MAP_ENTRIES) break;
    const v = src[key];
    if (key.length === 0 || key.length > MAX_MAP_KEY || key === '__proto__') continue;
    if (typeof v !== 'string' || v.length > MAX_MAP_VALUE) continue;
    (out ??= {})[key] = v;
    n++;
  }
  return out ?? EMPTY_MAP;
}

function containerState(value: unknown): ContainerState {
  return typeof value === 'number' ? (CONTAINER_STATES[value] ?? 'unknown') : 'unknown';
}

/** SANDBOX_READY (0) → running, SANDBOX_NOTREADY (1) → exited. */
function sandboxState(value: unknown): ContainerState {
  return value === 0 ? 'running' : value === 1 ? 'exited' : 'unknown';
}

/** What a list entry says, for deciding whether a cached status is still good. */
export function listKey(item: unknown): string | undefined {
  const o = obj(item);
  if (o === undefined) return undefined;
  const state = typeof o['state'] === 'number' ? o['state'] : -1;
  const created = criNanos(o['createdAt']) ?? 0n;
  return `${state}:${created}`;
}

/** What the runtime-specific verbose `info` JSON told us; everything optional. */
export interface VerboseInfo {
  readonly pid?: number;
  /** Sandbox: the config's `log_directory` (containerd puts the whole PodSandboxConfig there). */
  readonly logDirectory?: string;
  /** Sandbox: the pause image (containerd). */
  readonly image?: string;
  readonly limits?: ContainerLimits;
}

const NO_INFO: VerboseInfo = Object.freeze({});

function limitsFromSpec(spec: Obj | undefined): ContainerLimits | undefined {
  const resources = obj(obj(spec?.['linux'])?.['resources']);
  if (resources === undefined) return undefined;
  return limitsOf(
    obj(resources['memory'])?.['limit'],
    obj(resources['cpu'])?.['quota'],
    obj(resources['cpu'])?.['period'],
    obj(resources['pids'])?.['limit'],
  );
}

function limitsOf(memory: unknown, quota: unknown, period: unknown, pids: unknown): ContainerLimits | undefined {
  const mem = positiveNumber(memory);
  const q = positiveNumber(quota);
  const p = positiveNumber(period);
  const pidLimit = positiveNumber(pids);
  const memoryBytes = mem !== undefined && mem < UNLIMITED_BYTES ? mem : undefined;
  const cpus = q !== undefined && p !== undefined ? q / p : undefined;
  if (memoryBytes === undefined && cpus === undefined && pidLimit === undefined) return undefined;
  return { memoryBytes, cpus, pids: pidLimit };
}

/**
 * Reads the verbose `info` map of ContainerStatus / PodSandboxStatus. containerd and CRI-O both
 * put one JSON document under the key `info` with `pid` and `runtimeSpec`; containerd's sandbox
 * document also carries `config` (the PodSandboxConfig, so `log_directory`) and `image`. JSON that
 * does not parse is counted and ignored.
 */
export function parseVerboseInfo(info: unknown, notes: ConvertNotes): VerboseInfo {
  const raw = obj(info)?.['info'];
  if (typeof raw !== 'string' || raw.length === 0) return NO_INFO;
  if (raw.length > MAX_INFO_JSON) {
    notes.malformed++;
    return NO_INFO;
  }
  let doc: Obj | undefined;
  try {
    doc = obj(JSON.parse(raw));
  } catch {
    doc = undefined;
  }
  if (doc === undefined) {
    notes.malformed++;
    return NO_INFO;
  }
  const config = obj(doc['config']);
  return {
    pid: count(doc['pid'], MAX_PID) || undefined,
    logDirectory: text(config?.['log_directory']) ?? text(config?.['logDirectory']),
    image: text(doc['image']),
    limits: limitsFromSpec(obj(doc['runtimeSpec'])),
  };
}

/**
 * The pod a sandbox stands for, from a ListPodSandbox item or a PodSandboxStatus (same field
 * names for what is read here) plus the verbose info. Undefined when the sandbox has no usable
 * id or no metadata.
 */
export function podFromSandbox(sandbox: unknown, verbose: VerboseInfo): PodInfo | undefined {
  const o = obj(sandbox);
  const id = criId(o?.['id']);
  const meta = obj(o?.['metadata']);
  if (id === undefined || meta === undefined) return undefined;
  return {
    uid: text(meta['uid']) ?? '',
    name: text(meta['name']) ?? '',
    namespace: text(meta['namespace']) ?? '',
    sandboxId: id,
    logDirectory: verbose.logDirectory,
    labels: stringMap(o?.['labels']),
    annotations: stringMap(o?.['annotations']),
  };
}

/**
 * A sandbox as a ContainerInfo with `sandbox: true` (its cgroup and network namespace are the
 * pod's). `item` is the ListPodSandbox entry; `status` the PodSandboxStatus, when fetched, wins.
 */
export function sandboxInfo(
  item: unknown,
  status: unknown,
  verbose: VerboseInfo,
  pod: PodInfo | undefined,
  runtime: RuntimeName,
  notes: ConvertNotes,
): ContainerInfo | undefined {
  const listed = obj(item);
  const current = obj(status) ?? listed;
  const id = criId(listed?.['id']) ?? criId(current?.['id']);
  if (id === undefined || current === undefined) {
    notes.malformed++;
    return undefined;
  }
  const meta = obj(current['metadata']) ?? obj(listed?.['metadata']);
  const state = sandboxState(current['state']);
  const image = parseImageRef(verbose.image);
  return {
    id,
    runtime,
    sandbox: true,
    name: text(meta?.['name']) ?? '',
    imageName: image.name,
    imageTags: image.tag !== undefined ? [image.tag] : undefined,
    imageId: undefined,
    state,
    pid: state === 'running' ? verbose.pid : undefined,
    createdAtUnixNano: criNanos(current['createdAt']),
    startedAtUnixNano: undefined,
    finishedAtUnixNano: undefined,
    exitCode: undefined,
    exitReason: undefined,
    oomKilled: undefined,
    restartCount: count(meta?.['attempt'], 0xffffffff) ?? 0,
    labels: stringMap(current['labels']),
    annotations: stringMap(current['annotations']),
    pod,
    limits: verbose.limits,
    logPath: undefined,
  };
}

/**
 * A container from its ListContainers entry and, when fetched, its ContainerStatus response
 * (`{ status, info }`). Without a status (it could not be fetched) the list entry alone gives
 * identity, image and state; pid, times, exit and limits stay undefined.
 */
export function containerInfo(
  item: unknown,
  response: unknown,
  pod: PodInfo | undefined,
  runtime: RuntimeName,
  notes: ConvertNotes,
): ContainerInfo | undefined {
  const listed = obj(item);
  const resp = obj(response);
  const status = obj(resp?.['status']);
  const id = criId(listed?.['id']) ?? criId(status?.['id']);
  if (id === undefined) {
    notes.malformed++;
    return undefined;
  }
  const current = status ?? listed!;
  const verbose = status !== undefined ? parseVerboseInfo(resp?.['info'], notes) : NO_INFO;
  const meta = obj(current['metadata']) ?? obj(listed?.['metadata']);
  const state = containerState(current['state']);
  const exited = state === 'exited';
  // containerd's list entry names the image by id; the status keeps the reference it was created from.
  const imageText = text(obj(status?.['image'])?.['image']) ?? text(obj(listed?.['image'])?.['image']);
  const image = parseImageRef(imageText);
  const reason = exited ? text(status?.['reason'], 256) : undefined;
  const exitCode = status?.['exitCode'];
  const resources = obj(obj(status?.['resources'])?.['linux']);
  const limits =
    (resources !== undefined
      ? limitsOf(resources['memoryLimitInBytes'], resources['cpuQuota'], resources['cpuPeriod'], undefined)
      : undefined) ?? verbose.limits;
  return {
    id,
    runtime,
    name: text(meta?.['name']) ?? '',
    imageName: image.name,
    imageTags: image.tag !== undefined ? [image.tag] : undefined,
    imageId: text(current['imageRef']) ?? text(listed?.['imageRef']),
    state,
    pid: state === 'running' ? verbose.pid : undefined,
    createdAtUnixNano: criNanos(current['createdAt']),
    startedAtUnixNano: criNanos(status?.['startedAt']),
    finishedAtUnixNano: criNanos(status?.['finishedAt']),
    exitCode: exited && status !== undefined && typeof exitCode === 'number' && Number.isInteger(exitCode) ? exitCode : undefined,
    exitReason: reason,
    oomKilled: exited && status !== undefined ? reason === 'OOMKilled' : undefined,
    restartCount: count(meta?.['attempt'], 0xffffffff) ?? 0,
    labels: stringMap(current['labels']),
    annotations: stringMap(current['annotations']),
    pod,
    limits,
    logPath: logPathOf(text(status?.['logPath']), pod?.logDirectory),
  };
}

/**
 * CRI `log_path`: containerd and CRI-O report it joined to the sandbox's log directory already;
 * a relative one is joined here when the directory is known, otherwise it names no file.
 */
function logPathOf(logPath: string | undefined, logDirectory: string | undefined): string | undefined {
  if (logPath === undefined) return undefined;
  if (logPath.startsWith('/')) return logPath;
  if (logDirectory === undefined || !logDirectory.startsWith('/')) return undefined;
  return logDirectory.endsWith('/') ? logDirectory + logPath : `${logDirectory}/${logPath}`;
}
