import { stat } from 'node:fs/promises';
import type protobuf from 'protobufjs';
import { RuntimeError, type RuntimeErrorReason } from '../../errors.js';
import {
  type ConvertNotes,
  containerInfo,
  criId,
  listKey,
  parseVerboseInfo,
  podFromSandbox,
  sandboxInfo,
} from './cri-convert.js';
import type { CriMethod, CriProto } from './cri-proto.js';
import type { GrpcUnixChannel } from './grpc-over-http2.js';
import type { ContainerInfo, PodInfo, RuntimeClient, RuntimeName } from './types.js';

/**
 * A CRI v1 client for containerd and CRI-O: `runtime.v1.RuntimeService` over gRPC on the
 * runtime's unix socket (node:http2 directly, grpc-over-http2.ts), read-only. One `list()` is ListPodSandbox + ListContainers, then a
 * verbose ContainerStatus (pid, times, exit, limits) only for containers whose list entry changed
 * since the last list, so a steady node costs two calls per cycle.
 *
 * CRI has no usable event stream on the runtimes we target (containerd 1.6 does not implement
 * GetContainerEvents), so there is no `watch`: the metadata cache diffs successive lists.
 */
export interface CriClientOptions {
  /** The runtime's socket (`/run/containerd/containerd.sock`, `/var/run/crio/crio.sock`). */
  readonly socketPath: string;
  /** Which runtime answers; asked with `Version` on first use when not given. */
  readonly runtime?: 'containerd' | 'cri-o';
  /**
   * A deadline for every call, in ms (default 10 s; sent as `grpc-timeout` too): a second guard
   * beside the caller's AbortSignal, so a call never outlives a caller that forgot to abort.
   */
  readonly callTimeoutMs?: number;
  /**
   * How long a new connection may stay silent (no HTTP/2 SETTINGS, no byte at all) before it is
   * dropped, failing its calls as unavailable, in ms (default 5 s): a runtime that accepts and never
   * answers costs one connect timeout, and the next call connects afresh.
   */
  readonly connectTimeoutMs?: number;
}

/** The runtime's own `Version` answer. */
export interface CriVersion {
  /** CRI API version (`v1`). */
  readonly version: string;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
}

/** Status calls in flight at once during a list: enough to refresh a node's pods quickly without flooding the runtime. */
const STATUS_CONCURRENCY = 4;
const DEFAULT_CALL_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** kubelet's own limit for CRI answers; ListContainers on a busy node outgrows gRPC's 4 MiB default. */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;
/** Longest runtime-supplied error detail copied into an error message. */
const MAX_DETAIL = 300;

const REASONS: readonly RuntimeErrorReason[] = ['absent', 'unavailable', 'timeout', 'protocol', 'failed'];

type Wire = typeof import('./cri-wire.js');
/** The wire modules, once a client has called a socket that exists (cri-wire.ts). */
let wire: Wire | undefined;

async function loadWire(): Promise<Wire> {
  return (wire ??= await import('./cri-wire.js'));
}

/** True when a RuntimeError came from a NOT_FOUND answer (the container or sandbox is gone). */
function isNotFound(err: unknown): boolean {
  // No call was made without the wire loaded, so no gRPC error exists without it either.
  return wire !== undefined && err instanceof RuntimeError && err.cause instanceof wire.GrpcCallError && err.cause.code === wire.GrpcStatus.NOT_FOUND;
}

/** A runtime that answered but not usefully for one item: fall back to the list entry. */
function isItemFailure(err: unknown): boolean {
  return err instanceof RuntimeError && (err.reason === 'failed' || err.reason === 'protocol');
}

interface SandboxEntry {
  readonly key: string;
  readonly pod: PodInfo | undefined;
  readonly info: ContainerInfo;
}

interface ContainerEntry {
  readonly key: string;
  readonly info: ContainerInfo;
}

/** Work for the status pool: a container or sandbox whose list entry is new or changed. */
interface StatusJob {
  readonly sandbox: boolean;
  readonly id: string;
  response: protobuf.Message | undefined;
  gone: boolean;
}

export class CriClient implements RuntimeClient {
  readonly socketPath: string;
  /** Made on the first call (the wire modules load then). */
  #proto: CriProto | undefined;
  #channel: GrpcUnixChannel | undefined;
  readonly #connectTimeoutMs: number;
  readonly #callTimeoutMs: number;
  #runtime: RuntimeName | undefined;
  #detecting: Promise<void> | undefined;
  #closed = false;
  #calls = 0;
  readonly #failures: Record<RuntimeErrorReason, number> = { absent: 0, unavailable: 0, timeout: 0, protocol: 0, failed: 0 };
  readonly #notes: ConvertNotes = { malformed: 0 };
  #sandboxes = new Map<string, SandboxEntry>();
  #containers = new Map<string, ContainerEntry>();

  constructor(options: CriClientOptions) {
    if (typeof options?.socketPath !== 'string' || options.socketPath.length === 0) {
      throw new TypeError('CriClient: socketPath must be a non-empty path');
    }
    if (options.runtime !== undefined && options.runtime !== 'containerd' && options.runtime !== 'cri-o') {
      throw new TypeError(`CriClient: unsupported runtime ${String(options.runtime)}, use containerd or cri-o`);
    }
    const timeout = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new TypeError('CriClient: callTimeoutMs must be a positive number of milliseconds');
    }
    const connectTimeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!Number.isFinite(connectTimeout) || connectTimeout <= 0) {
      throw new TypeError('CriClient: connectTimeoutMs must be a positive number of milliseconds');
    }
    this.socketPath = options.socketPath;
    this.#runtime = options.runtime;
    this.#callTimeoutMs = timeout;
    this.#connectTimeoutMs = connectTimeout;
  }

  /** The runtime's name; `containerd` until `Version` has said otherwise when not given. */
  get runtime(): RuntimeName {
    return this.#runtime ?? 'containerd';
  }

  /** gRPC calls started. */
  get calls(): number {
    return this.#calls;
  }

  /** Failed calls (and socket checks) by reason. */
  get failures(): Readonly<Record<RuntimeErrorReason, number>> {
    return this.#failures;
  }

  /** Entries dropped for an unusable id, and verbose info that was not JSON. */
  get malformed(): number {
    return this.#notes.malformed;
  }

  /** Asks the runtime who it is (and, as a side effect, sets `runtime` when it was not given). */
  async version(signal: AbortSignal): Promise<CriVersion> {
    await this.#checkSocket();
    return this.#version(signal);
  }

  async list(signal: AbortSignal): Promise<ContainerInfo[]> {
    await this.#ready(signal);
    const [sandboxResp, containerResp] = await Promise.all([
      this.call('ListPodSandbox', {}, signal),
      this.call('ListContainers', {}, signal),
    ]);
    const sandboxItems = arrayField(sandboxResp, 'items');
    const containerItems = arrayField(containerResp, 'containers');

    const jobs: StatusJob[] = [];
    const sandboxKeys = new Map<string, string>();
    const containerKeys = new Map<string, string>();
    for (const item of sandboxItems) {
      const id = criId((item as unknown as Record<string, unknown>)['id']);
      const key = listKey(item);
      if (id === undefined || key === undefined) continue;
      sandboxKeys.set(id, key);
      if (this.#sandboxes.get(id)?.key !== key) jobs.push({ sandbox: true, id, response: undefined, gone: false });
    }
    for (const item of containerItems) {
      const id = criId((item as unknown as Record<string, unknown>)['id']);
      const key = listKey(item);
      if (id === undefined || key === undefined) continue;
      containerKeys.set(id, key);
      if (this.#containers.get(id)?.key !== key) jobs.push({ sandbox: false, id, response: undefined, gone: false });
    }
    await this.#runStatusJobs(jobs, signal);

    // Sandboxes first: containers take their pod from them.
    const runtime = this.runtime;
    const sandboxes = new Map<string, SandboxEntry>();
    const out: ContainerInfo[] = [];
    const fresh = new Map<string, StatusJob>();
    for (const job of jobs) fresh.set(job.sandbox ? `s${job.id}` : `c${job.id}`, job);
    for (const item of sandboxItems) {
      const record = item as unknown as Record<string, unknown>;
      const id = criId(record['id']);
      if (id === undefined) {
        this.#notes.malformed++;
        continue;
      }
      const job = fresh.get(`s${id}`);
      let entry = this.#sandboxes.get(id);
      if (job !== undefined || entry === undefined) {
        if (job?.gone === true) continue;
        entry = this.#sandboxEntry(item, job?.response, cacheKey(job, sandboxKeys.get(id)), runtime);
        if (entry === undefined) continue;
      }
      sandboxes.set(id, entry);
      out.push(entry.info);
    }
    const containers = new Map<string, ContainerEntry>();
    for (const item of containerItems) {
      const record = item as unknown as Record<string, unknown>;
      const id = criId(record['id']);
      if (id === undefined) {
        this.#notes.malformed++;
        continue;
      }
      const pod = sandboxes.get(criId(record['podSandboxId']) ?? '')?.pod;
      const job = fresh.get(`c${id}`);
      let entry = this.#containers.get(id);
      if (job !== undefined || entry === undefined) {
        if (job?.gone === true) continue;
        const info = containerInfo(item, job?.response, pod, runtime, this.#notes);
        if (info === undefined) continue;
        entry = { key: cacheKey(job, containerKeys.get(id)), info };
      } else if (entry.info.pod !== pod) {
        // The sandbox was re-read (its state changed): same container, current pod.
        entry = { key: entry.key, info: { ...entry.info, pod } };
      }
      containers.set(id, entry);
      out.push(entry.info);
    }
    // Swapping in the new maps forgets everything the runtime no longer lists.
    this.#sandboxes = sandboxes;
    this.#containers = containers;
    return out;
  }

  async inspect(id: string, signal: AbortSignal): Promise<ContainerInfo | undefined> {
    if (criId(id) === undefined) return undefined;
    await this.#ready(signal);
    const runtime = this.runtime;
    const listed = arrayField(await this.call('ListContainers', { filter: { id } }, signal), 'containers');
    const item = listed.find((c) => (c as unknown as Record<string, unknown>)['id'] === id);
    if (item !== undefined) {
      const response = await this.#statusOf(false, id, signal);
      if (response === undefined) {
        this.#containers.delete(id);
        return undefined;
      }
      const sandboxId = criId((item as unknown as Record<string, unknown>)['podSandboxId']);
      let pod = sandboxId !== undefined ? this.#sandboxes.get(sandboxId)?.pod : undefined;
      if (pod === undefined && sandboxId !== undefined) pod = await this.#podOf(sandboxId, signal);
      const info = containerInfo(item, response, pod, runtime, this.#notes);
      if (info !== undefined) this.#containers.set(id, { key: listKey(item) ?? '', info });
      return info;
    }
    const sandboxes = arrayField(await this.call('ListPodSandbox', { filter: { id } }, signal), 'items');
    const sandbox = sandboxes.find((s) => (s as unknown as Record<string, unknown>)['id'] === id);
    if (sandbox === undefined) {
      this.invalidate(id);
      return undefined;
    }
    const response = await this.#statusOf(true, id, signal);
    if (response === undefined) {
      this.#sandboxes.delete(id);
      return undefined;
    }
    const entry = this.#sandboxEntry(sandbox, response, listKey(sandbox) ?? '', runtime);
    if (entry === undefined) return undefined;
    this.#sandboxes.set(id, entry);
    return entry.info;
  }

  invalidate(id: string): void {
    this.#containers.delete(id);
    this.#sandboxes.delete(id);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sandboxes.clear();
    this.#containers.clear();
    this.#channel?.close();
  }

  /**
   * One unary RuntimeService call: `request` is a plain object with camelCase field names.
   * Rejects with a RuntimeError whose reason says what happened (see errors.ts). Public for the
   * test helper that creates pods; the agent itself only reads.
   */
  async call(method: CriMethod, request: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<protobuf.Message> {
    const w = wire ?? (await loadWire());
    // Creating the channel opens nothing: it connects on the first call.
    this.#proto ??= w.criProto();
    this.#channel ??= new w.GrpcUnixChannel({ socketPath: this.socketPath, connectTimeoutMs: this.#connectTimeoutMs, maxReceiveBytes: MAX_RECEIVE_BYTES });
    const types = this.#proto.methods[method];
    if (this.#closed) throw this.#fail(new RuntimeError(this.runtime, 'unavailable', `${method}: client closed`));
    if (signal.aborted) throw this.#fail(new RuntimeError(this.runtime, 'timeout', `${method}: aborted before the call`));
    const body = w.encodeRequest(types.request, request);
    this.#calls++;
    let bytes: Buffer;
    try {
      bytes = await this.#channel.unary(types.path, body, signal, this.#callTimeoutMs);
    } catch (err) {
      throw this.#fail(this.#mapError(w, method, err, signal));
    }
    try {
      return w.decodeResponse(this.runtime, types.response, bytes);
    } catch (err) {
      throw this.#fail(err as RuntimeError);
    }
  }

  async #ready(signal: AbortSignal): Promise<void> {
    await this.#checkSocket();
    if (this.#runtime !== undefined) return;
    this.#detecting ??= this.#version(signal).then(
      () => undefined,
      (err: unknown) => {
        this.#detecting = undefined;
        throw err;
      },
    );
    await this.#detecting;
  }

  async #version(signal: AbortSignal): Promise<CriVersion> {
    const resp = (await this.call('Version', { version: 'v1' }, signal)) as unknown as Record<string, unknown>;
    const name = typeof resp['runtimeName'] === 'string' ? resp['runtimeName'] : '';
    // cri-dockerd says "docker"; anything else unknown keeps the configured or default name.
    if (name === 'containerd' || name === 'cri-o' || name === 'docker') this.#runtime ??= name;
    return {
      version: String(resp['version'] ?? ''),
      runtimeName: name,
      runtimeVersion: String(resp['runtimeVersion'] ?? ''),
      runtimeApiVersion: String(resp['runtimeApiVersion'] ?? ''),
    };
  }

  /** A missing socket file is 'absent' (not installed, not mounted), told apart from a refusing one. */
  async #checkSocket(): Promise<void> {
    if (this.#closed) throw this.#fail(new RuntimeError(this.runtime, 'unavailable', 'client closed'));
    try {
      await stat(this.socketPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' || code === 'ENOTDIR' ? 'absent' : 'unavailable';
      throw this.#fail(new RuntimeError(this.runtime, reason, `socket ${this.socketPath}: ${code ?? 'stat failed'}`, { cause: err }));
    }
  }

  #mapError(w: Wire, method: CriMethod, caught: unknown, signal: AbortSignal): RuntimeError {
    const { GrpcCallError, GrpcStatus, grpcStatusName } = w;
    const err = caught instanceof GrpcCallError ? caught : new GrpcCallError(GrpcStatus.UNKNOWN, String((caught as Error)?.message ?? caught));
    const details = err.details.slice(0, MAX_DETAIL);
    const what = `${method}: ${grpcStatusName(err.code)}${details.length > 0 ? ` (${details})` : ''}`;
    let reason: RuntimeErrorReason;
    if (signal.aborted || err.code === GrpcStatus.DEADLINE_EXCEEDED) reason = 'timeout';
    // The runtime answered, but not in gRPC's shape (framing, content type, not HTTP/2 at all).
    else if (err.malformed) reason = 'protocol';
    else if (err.code === GrpcStatus.UNAVAILABLE) reason = details.includes('ENOENT') ? 'absent' : 'unavailable';
    // Cancelled without our signal: the channel went away under the call.
    else if (err.code === GrpcStatus.CANCELLED) reason = 'unavailable';
    else reason = 'failed';
    return new RuntimeError(this.runtime, reason, what, { cause: err });
  }

  #fail(err: RuntimeError): RuntimeError {
    if (REASONS.includes(err.reason)) this.#failures[err.reason]++;
    return err;
  }

  /**
   * Fetches verbose statuses, at most STATUS_CONCURRENCY at a time. An item that vanished
   * (NOT_FOUND) is marked gone; one the runtime failed to describe keeps its list entry; a dead
   * or hung runtime fails the whole list.
   */
  async #runStatusJobs(jobs: StatusJob[], signal: AbortSignal): Promise<void> {
    if (jobs.length === 0) return;
    let next = 0;
    // Once one worker has given up on the runtime, the others stop taking jobs.
    let stopped = false;
    const worker = async (): Promise<void> => {
      while (!stopped && next < jobs.length) {
        const job = jobs[next++]!;
        try {
          job.response = await this.#statusOf(job.sandbox, job.id, signal);
          job.gone = job.response === undefined;
        } catch (err) {
          if (!isItemFailure(err)) {
            stopped = true;
            throw err;
          }
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(STATUS_CONCURRENCY, jobs.length); i++) workers.push(worker());
    await Promise.all(workers);
  }

  #sandboxEntry(item: protobuf.Message, response: protobuf.Message | undefined, key: string, runtime: RuntimeName): SandboxEntry | undefined {
    const resp = response as unknown as Record<string, unknown> | undefined;
    const status = resp?.['status'] ?? undefined;
    const verbose = parseVerboseInfo(resp?.['info'], this.#notes);
    // The status carries the same metadata/labels/annotations as the list entry; the entry is never null.
    const pod = podFromSandbox(status ?? item, verbose) ?? podFromSandbox(item, verbose);
    const info = sandboxInfo(item, status, verbose, pod, runtime, this.#notes);
    return info === undefined ? undefined : { key, pod, info };
  }

  async #podOf(sandboxId: string, signal: AbortSignal): Promise<PodInfo | undefined> {
    try {
      const resp = (await this.#statusOf(true, sandboxId, signal)) as unknown as Record<string, unknown> | undefined;
      return resp === undefined ? undefined : podFromSandbox(resp['status'], parseVerboseInfo(resp['info'], this.#notes));
    } catch (err) {
      if (isItemFailure(err)) return undefined;
      throw err;
    }
  }

  /** The verbose status of a pod sandbox or a container; undefined when the runtime no longer knows it (NOT_FOUND). */
  async #statusOf(sandbox: boolean, id: string, signal: AbortSignal): Promise<protobuf.Message | undefined> {
    try {
      return sandbox
        ? await this.call('PodSandboxStatus', { podSandboxId: id, verbose: true }, signal)
        : await this.call('ContainerStatus', { containerId: id, verbose: true }, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

/**
 * The key an entry is cached under: the list key, or '' (matches nothing, so the next list asks
 * again) when its status could not be fetched and the entry holds only what the list said.
 */
function cacheKey(job: StatusJob | undefined, listed: string | undefined): string {
  return job !== undefined && job.response === undefined ? '' : (listed ?? '');
}

/** A repeated field of a decoded response; an empty array when absent or odd. */
function arrayField(message: protobuf.Message, field: string): protobuf.Message[] {
  const value = (message as unknown as Record<string, unknown>)[field];
  return Array.isArray(value) ? (value as protobuf.Message[]) : [];
}
