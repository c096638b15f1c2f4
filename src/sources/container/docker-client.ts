/**
 * The Docker runtime client: the Engine API on `<host root>/var/run/docker.sock` through
 * dockerode's modem, mapped to RuntimeClient (types.ts).
 *
 * Requests go through `modem.dial` in stream mode rather than dockerode's high-level calls, so
 * that this file reads each answer itself: with a size cap (the modem would buffer any size),
 * under the caller's AbortSignal before and after the answer starts, and with one error mapping
 * to RuntimeError reasons. The modem gets its own non-keep-alive agent, so close() leaves no
 * pooled socket behind and nothing from the process-wide agent is shared.
 */
import { existsSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import Docker from 'dockerode';
import { RuntimeError } from '../../errors.js';
import {
  EventLineSplitter,
  WATCHED_ACTIONS,
  decodeJson,
  eventFromLine,
  inspectionFromJson,
  listFromJson,
  type Inspection,
  type ListEntry,
} from './docker-convert.js';
import type { ContainerInfo, RuntimeClient, RuntimeEvent, RuntimeWatch } from './types.js';

export interface DockerClientOptions {
  /** `<host root>/var/run/docker.sock`. */
  readonly socketPath: string;
  /** Container inspections in flight at once during list(); default 4. */
  readonly inspectConcurrency?: number;
}

/** Caps on one answer: a list of ~10,000 containers, one inspection with 64 KiB of labels to spare. */
const MAX_LIST_BYTES = 64 * 1024 * 1024;
const MAX_INSPECT_BYTES = 4 * 1024 * 1024;
/** One event line carries the container's labels as attributes; more than this is not a real event. */
const MAX_EVENT_LINE_BYTES = 1024 * 1024;
/** Error texts from the daemon are quoted up to this many characters, never whole bodies. */
const MAX_QUOTE = 200;
/** Ids and names the API accepts in a path; anything else is not a container the runtime knows. */
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const DEFAULT_INSPECT_CONCURRENCY = 4;
const MAX_INSPECT_CONCURRENCY = 64;

const SYSCALL_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTSOCK', 'EACCES', 'EPERM', 'ETIMEDOUT', 'EAGAIN', 'ENOTCONN']);

interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

function quote(text: unknown): string {
  const s = typeof text === 'string' ? text : '';
  return s.length > MAX_QUOTE ? `${s.slice(0, MAX_QUOTE)}…` : s;
}

/**
 * The daemon's own words from a modem status error, cut short. In stream mode the modem puts
 * the answer's `message` only into its error text: `(HTTP code 500) unexpected - <message> `.
 */
function daemonMessage(err: { message?: unknown }): string {
  const text = typeof err.message === 'string' ? err.message : '';
  const dash = text.indexOf(' - ');
  return dash === -1 ? '' : quote(text.slice(dash + 3, dash + 3 + MAX_QUOTE + 1).trim());
}

/** Counters shared by the client and its watches. */
interface Counters {
  malformedEvents: number;
  malformedAnswers: number;
}

export class DockerClient implements RuntimeClient {
  readonly runtime = 'docker' as const;
  readonly socketPath: string;
  readonly #docker: Docker;
  readonly #agent: http.Agent;
  readonly #concurrency: number;
  /** Aborted by close(): every call's signal follows it. */
  readonly #closer = new AbortController();
  /** Inspections by id, reused while the list entry's State and Created stay the same. */
  readonly #cache = new Map<string, Inspection>();
  /** invalidate() calls per id: an inspection is cached only if none came while it was in flight. */
  readonly #invalidations = new Map<string, number>();
  readonly #watches = new Set<DockerEventWatch>();
  readonly #counters: Counters = { malformedEvents: 0, malformedAnswers: 0 };

  constructor(options: DockerClientOptions) {
    if (typeof options?.socketPath !== 'string' || options.socketPath.length === 0) {
      throw new TypeError('DockerClient: socketPath must be a non-empty string');
    }
    const concurrency = options.inspectConcurrency ?? DEFAULT_INSPECT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_INSPECT_CONCURRENCY) {
      throw new TypeError(`DockerClient: inspectConcurrency must be an integer from 1 to ${MAX_INSPECT_CONCURRENCY}`);
    }
    this.socketPath = options.socketPath;
    this.#concurrency = concurrency;
    this.#agent = new http.Agent({ keepAlive: false });
    // The modem also reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CLIENT_TIMEOUT; naming
    // host, protocol and timeout here keeps the socket we were given whatever the environment says.
    const modemOptions = { socketPath: this.socketPath, host: undefined, port: undefined, protocol: 'http', timeout: undefined, agent: this.#agent };
    this.#docker = new Docker(modemOptions as Docker.DockerOptions);
  }

  /** Event lines skipped since this client was made: not JSON, not the documented shape, or too long. */
  get malformedEvents(): number {
    return this.#counters.malformedEvents;
  }

  /** List entries and inspections skipped or degraded because the answer did not have the documented shape. */
  get malformedAnswers(): number {
    return this.#counters.malformedAnswers;
  }

  async list(signal: AbortSignal): Promise<ContainerInfo[]> {
    const callSignal = this.#begin(signal, 'container list');
    const answer = await this.#get('/containers/json?', { all: 1 }, callSignal, MAX_LIST_BYTES, 'container list', false);
    const { entries, malformed } = listFromJson(decodeJson(answer.body, 'container list'));
    this.#counters.malformedAnswers += malformed;
    this.#forgetUnlisted(entries);

    const out: (ContainerInfo | undefined)[] = new Array<ContainerInfo | undefined>(entries.length);
    const todo: ListEntry[] = [];
    const slots: number[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as ListEntry;
      const cached = this.#cache.get(entry.id);
      if (cached !== undefined && cached.key === entry.key) {
        out[i] = cached.info;
      } else {
        todo.push(entry);
        slots.push(i);
      }
    }

    // Once one inspection fails the list has failed: stop the others rather than let them run on.
    const stop = new AbortController();
    const inspectSignal = AbortSignal.any([callSignal, stop.signal]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!stop.signal.aborted && next < todo.length) {
        const k = next++;
        try {
          out[slots[k] as number] = await this.#inspectForList(todo[k] as ListEntry, inspectSignal);
        } catch (err) {
          stop.abort();
          throw err;
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = Math.min(this.#concurrency, todo.length); w > 0; w--) workers.push(worker());
    await Promise.all(workers);

    const result: ContainerInfo[] = [];
    for (const info of out) if (info !== undefined) result.push(info);
    return result;
  }

  async inspect(id: string, signal: AbortSignal): Promise<ContainerInfo | undefined> {
    const callSignal = this.#begin(signal, 'container inspect');
    if (typeof id !== 'string' || !REF_RE.test(id)) return undefined;
    const inspection = await this.#inspectOnce(id, callSignal);
    return inspection?.info;
  }

  invalidate(id: string): void {
    this.#cache.delete(id);
    this.#invalidations.set(id, (this.#invalidations.get(id) ?? 0) + 1);
  }

  watch(onEvent: (event: RuntimeEvent) => void, onEnd: (err: Error | undefined) => void): RuntimeWatch {
    const watch = new DockerEventWatch(this.#docker, onEvent, onEnd, this.#counters, (w) => this.#watches.delete(w));
    this.#watches.add(watch);
    if (this.#closer.signal.aborted) {
      watch.fail(new RuntimeError('docker', 'unavailable', 'event stream: client closed'));
    } else if (!existsSync(this.socketPath)) {
      watch.fail(new RuntimeError('docker', 'absent', `event stream: no socket at ${this.socketPath}`));
    } else {
      watch.start();
    }
    return watch;
  }

  close(): void {
    if (this.#closer.signal.aborted) return;
    this.#closer.abort();
    for (const watch of this.#watches) watch.close();
    this.#watches.clear();
    this.#cache.clear();
    this.#invalidations.clear();
    this.#agent.destroy();
  }

  // -------------------------------------------------------------------------------------------

  /** Checks that the call may start and gives the signal it runs under (the caller's or close()). */
  #begin(signal: AbortSignal, what: string): AbortSignal {
    if (this.#closer.signal.aborted) throw new RuntimeError('docker', 'unavailable', `${what}: client closed`);
    if (signal.aborted) throw new RuntimeError('docker', 'timeout', `${what}: deadline passed before the call`);
    if (!existsSync(this.socketPath)) throw new RuntimeError('docker', 'absent', `${what}: no socket at ${this.socketPath}`);
    return AbortSignal.any([signal, this.#closer.signal]);
  }

  async #inspectForList(entry: ListEntry, signal: AbortSignal): Promise<ContainerInfo | undefined> {
    try {
      return (await this.#inspectOnce(entry.id, signal))?.info;
    } catch (err) {
      // The daemon answered, but not usefully for this one container: report what the list
      // said rather than fail every container. Transport errors and deadlines fail the list.
      if (err instanceof RuntimeError && (err.reason === 'failed' || err.reason === 'protocol')) {
        if (err.reason === 'protocol') this.#counters.malformedAnswers++;
        return entry.info;
      }
      throw err;
    }
  }

  /** GET /containers/{id}/json; undefined on 404. Caches the result unless invalidated meanwhile. */
  async #inspectOnce(id: string, signal: AbortSignal): Promise<Inspection | undefined> {
    const generation = this.#invalidations.get(id) ?? 0;
    const answer = await this.#get(`/containers/${encodeURIComponent(id)}/json`, undefined, signal, MAX_INSPECT_BYTES, 'container inspect', true);
    if (answer.status === 404) return undefined;
    const inspection = inspectionFromJson(decodeJson(answer.body, 'container inspect'));
    if ((this.#invalidations.get(inspection.info.id) ?? 0) === generation && !this.#closer.signal.aborted) {
      this.#cache.set(inspection.info.id, inspection);
    }
    return inspection;
  }

  #forgetUnlisted(entries: readonly ListEntry[]): void {
    const listed = new Set<string>();
    for (const entry of entries) listed.add(entry.id);
    for (const id of this.#cache.keys()) if (!listed.has(id)) this.#cache.delete(id);
    for (const id of this.#invalidations.keys()) if (!listed.has(id)) this.#invalidations.delete(id);
  }

  /**
   * One GET, its whole answer read under a size cap. Settles as soon as the signal aborts,
   * whatever the daemon does; the request (and its socket) is destroyed then.
   */
  #get(path: string, query: Record<string, unknown> | undefined, signal: AbortSignal, maxBytes: number, what: string, allow404: boolean): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      let response: IncomingMessage | undefined;
      const finish = (err: RuntimeError | undefined, answer?: Answer): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          response?.destroy();
          reject(err);
        } else {
          resolve(answer as Answer);
        }
      };
      const onAbort = (): void => finish(this.#abortError(what));
      signal.addEventListener('abort', onAbort, { once: true });

      const statusCodes: Record<number, boolean> = allow404 ? { 200: true, 404: true } : { 200: true };
      this.#docker.modem.dial({ path, method: 'GET', options: query, isStream: true, statusCodes, abortSignal: signal }, (err, result) => {
        if (err !== null) {
          finish(this.#mapError(err, signal, what));
          return;
        }
        const res = result as IncomingMessage;
        response = res;
        if (settled) {
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > maxBytes) {
            finish(new RuntimeError('docker', 'protocol', `${what}: answer larger than ${maxBytes} bytes`));
          } else {
            chunks.push(chunk);
          }
        });
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks, total) }));
        res.on('error', (e: Error) => finish(this.#mapError(e, signal, what)));
        res.on('close', () => finish(new RuntimeError('docker', 'unavailable', `${what}: connection closed before the answer ended`)));
      });
    });
  }

  #abortError(what: string): RuntimeError {
    return this.#closer.signal.aborted
      ? new RuntimeError('docker', 'unavailable', `${what}: client closed`)
      : new RuntimeError('docker', 'timeout', `${what}: no answer before the deadline`);
  }

  #mapError(err: unknown, signal: AbortSignal, what: string): RuntimeError {
    if (signal.aborted) return this.#abortError(what);
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; json?: unknown };
    if (typeof e.statusCode === 'number') {
      const said = daemonMessage(e);
      return new RuntimeError('docker', 'failed', `${what}: HTTP ${e.statusCode}${said ? `: ${said}` : ''}`);
    }
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === 'ENOENT') return new RuntimeError('docker', 'absent', `${what}: no socket at ${this.socketPath}`, { cause: err });
    if (code.startsWith('HPE_')) return new RuntimeError('docker', 'protocol', `${what}: not an HTTP answer (${code})`, { cause: err });
    if (SYSCALL_UNAVAILABLE.has(code)) return new RuntimeError('docker', 'unavailable', `${what}: ${code}`, { cause: err });
    return new RuntimeError('docker', 'unavailable', `${what}: ${code || quote(e.message)}`, { cause: err });
  }
}

const EVENT_FILTERS = { type: ['container'], event: Object.keys(WATCHED_ACTIONS) };

/**
 * One GET /events stream. Ends exactly once: by close() (silently) or by the stream ending,
 * failing or being refused (onEnd with the reason). No reconnect: the cache owns that.
 */
class DockerEventWatch implements RuntimeWatch {
  readonly #docker: Docker;
  readonly #onEvent: (event: RuntimeEvent) => void;
  readonly #onEnd: (err: Error | undefined) => void;
  readonly #counters: Counters;
  readonly #onDone: (watch: DockerEventWatch) => void;
  readonly #controller = new AbortController();
  #response: IncomingMessage | undefined;
  #ended = false;

  constructor(docker: Docker, onEvent: (event: RuntimeEvent) => void, onEnd: (err: Error | undefined) => void, counters: Counters, onDone: (watch: DockerEventWatch) => void) {
    this.#docker = docker;
    this.#onEvent = onEvent;
    this.#onEnd = onEnd;
    this.#counters = counters;
    this.#onDone = onDone;
  }

  start(): void {
    const splitter = new EventLineSplitter(
      MAX_EVENT_LINE_BYTES,
      (line) => this.#line(line),
      () => this.#counters.malformedEvents++,
    );
    this.#docker.modem.dial(
      { path: '/events?', method: 'GET', options: { filters: EVENT_FILTERS }, isStream: true, statusCodes: { 200: true }, abortSignal: this.#controller.signal },
      (err, result) => {
        if (err !== null) {
          this.#finish(this.#streamError(err));
          return;
        }
        const res = result as IncomingMessage;
        this.#response = res;
        if (this.#ended) {
          res.destroy();
          return;
        }
        res.on('data', (chunk: Buffer) => {
          if (!this.#ended) splitter.push(chunk);
        });
        res.on('end', () => this.#finish(new RuntimeError('docker', 'unavailable', 'event stream: the daemon ended it')));
        res.on('error', (e: Error) => this.#finish(this.#streamError(e)));
        res.on('close', () => this.#finish(new RuntimeError('docker', 'unavailable', 'event stream: connection closed')));
      },
    );
  }

  /** Ends the watch with an error, after the caller has had the watch handle back. */
  fail(err: RuntimeError): void {
    queueMicrotask(() => this.#finish(err));
  }

  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop();
  }

  #line(line: string): void {
    if (this.#ended) return;
    const event = eventFromLine(line);
    if (event === 'ignored') return;
    if (event === 'malformed') {
      this.#counters.malformedEvents++;
      return;
    }
    try {
      this.#onEvent(event);
    } catch (err) {
      // The consumer's bug, but the stream cannot go on past it: end the watch with it.
      this.#finish(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #finish(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop();
    this.#onEnd(err);
  }

  #stop(): void {
    this.#controller.abort();
    this.#response?.destroy();
    this.#response = undefined;
    this.#onDone(this);
  }

  #streamError(err: unknown): RuntimeError {
    const e = err as { code?: unknown; statusCode?: unknown; json?: unknown; message?: unknown };
    if (typeof e.statusCode === 'number') {
      const said = daemonMessage(e);
      return new RuntimeError('docker', 'failed', `event stream: HTTP ${e.statusCode}${said ? `: ${said}` : ''}`);
    }
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === 'ENOENT') return new RuntimeError('docker', 'absent', 'event stream: socket gone', { cause: err });
    if (code.startsWith('HPE_')) return new RuntimeError('docker', 'protocol', `event stream: not an HTTP answer (${code})`, { cause: err });
    return new RuntimeError('docker', 'unavailable', `event stream: ${code || quote(e.message)}`, { cause: err });
  }
}
