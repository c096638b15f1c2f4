/**
 * The Docker runtime client: the Engine API on `<host root>/var/run/docker.sock` over undici
 * (already loaded by the agent for export), mapped to RuntimeClient (types.ts).
 *
 * Each request is a `dispatch` with a handler of our own rather than a buffered `request`, so
 * that this file reads each answer itself: with a size cap known before a byte is kept, under the
 * caller's AbortSignal before and after the answer starts, and with one error mapping to
 * RuntimeError reasons. The client owns its pool of connections to the socket: close() destroys
 * it, so nothing is left behind and nothing from the process-wide dispatcher is shared.
 */
import { existsSync } from 'node:fs';
import type { Dispatcher, Pool } from 'undici';
import { undiciPool } from '../../io/http-client.js';
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
/** An error answer is read this far for the daemon's message; the rest is not waited for. */
const MAX_ERROR_BYTES = 64 * 1024;
/** One event line carries the container's labels as attributes; more than this is not a real event. */
const MAX_EVENT_LINE_BYTES = 1024 * 1024;
/** Error texts from the daemon are quoted up to this many characters, never whole bodies. */
const MAX_QUOTE = 200;
/** Ids and names the API accepts in a path; anything else is not a container the runtime knows. */
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const DEFAULT_INSPECT_CONCURRENCY = 4;
const MAX_INSPECT_CONCURRENCY = 64;
/** The Host header; the daemon does not look at it on its socket. */
const ORIGIN = 'http://localhost';
const LIST_PATH = '/containers/json?all=1';

const SYSCALL_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTSOCK', 'EACCES', 'EPERM', 'ETIMEDOUT', 'EAGAIN', 'ENOTCONN']);
/** undici's codes for an answer that is not the HTTP it announced. */
const UNDICI_PROTOCOL = new Set(['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_INFO']);
/** undici's own timers (headers, body, connect): our signals come first, but a stuck connect or parser ends here. */
const UNDICI_TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

function quote(text: unknown): string {
  const s = typeof text === 'string' ? text : '';
  return s.length > MAX_QUOTE ? `${s.slice(0, MAX_QUOTE)}…` : s;
}

const MESSAGE_RE = /"message"\s*:\s*"((?:[^"\\]|\\.){0,400})/;

/**
 * The daemon's own words from an error answer (`{"message": "..."}`), cut short; from the start
 * of the text when the body was cut at MAX_ERROR_BYTES and is no longer whole JSON.
 */
function daemonMessage(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as unknown;
    const message = (parsed as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? quote(message.trim()) : '';
  } catch {
    const m = MESSAGE_RE.exec(text);
    return m === null ? '' : quote((m[1] as string).trim());
  }
}

/** `failed` for an answer the daemon gave with an error status, quoting its message. */
function statusError(what: string, status: number, body: Buffer): RuntimeError {
  const said = daemonMessage(body);
  return new RuntimeError('docker', 'failed', `${what}: HTTP ${status}${said ? `: ${said}` : ''}`);
}

/** A transport error (undici's or the socket's) as a RuntimeError; `where` names the socket. */
function transportError(err: unknown, what: string, socketPath: string, gone: string): RuntimeError {
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  // undici's HTTPParserError carries an `HPE_` code only for some parser failures.
  const code = typeof e?.code === 'string' ? e.code : e?.name === 'HTTPParserError' ? 'HPE_INVALID' : '';
  if (code === 'ENOENT') return new RuntimeError('docker', 'absent', `${what}: ${gone === '' ? `no socket at ${socketPath}` : gone}`, { cause: err });
  if (code.startsWith('HPE_') || UNDICI_PROTOCOL.has(code)) return new RuntimeError('docker', 'protocol', `${what}: not an HTTP answer (${code})`, { cause: err });
  if (UNDICI_TIMEOUT.has(code)) return new RuntimeError('docker', 'timeout', `${what}: ${code}`, { cause: err });
  if (SYSCALL_UNAVAILABLE.has(code)) return new RuntimeError('docker', 'unavailable', `${what}: ${code}`, { cause: err });
  // UND_ERR_SOCKET: the daemon closed the connection (undici says "other side closed").
  if (code === 'UND_ERR_SOCKET') return new RuntimeError('docker', 'unavailable', `${what}: connection closed before the answer ended`, { cause: err });
  return new RuntimeError('docker', 'unavailable', `${what}: ${code || quote(e?.message)}`, { cause: err });
}

/** Counters shared by the client and its watches. */
interface Counters {
  malformedEvents: number;
  malformedAnswers: number;
}

export class DockerClient implements RuntimeClient {
  readonly runtime = 'docker' as const;
  readonly socketPath: string;
  readonly #pool: Pool;
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
    // Connections: the inspections of a list, an inspect() beside them, and an event stream.
    // Kept alive between requests of one cycle; undici closes them after a few idle seconds.
    const UndiciPool = undiciPool();
    this.#pool = new UndiciPool(ORIGIN, { connect: { socketPath: this.socketPath }, connections: concurrency + 2 });
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
    const answer = await this.#get(LIST_PATH, callSignal, MAX_LIST_BYTES, 'container list', false);
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
    if (todo.length === 0) return out as ContainerInfo[];

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
    const watch = new DockerEventWatch(this.#pool, onEvent, onEnd, this.#counters, (w) => this.#watches.delete(w));
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
    // Calls in flight were settled by the closer; what undici still reports for them is dropped.
    this.#pool.destroy().catch(() => undefined);
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
    const answer = await this.#get(`/containers/${encodeURIComponent(id)}/json`, signal, MAX_INSPECT_BYTES, 'container inspect', true);
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
   * whatever the daemon does; the request (and its connection) is dropped then.
   */
  #get(path: string, signal: AbortSignal, maxBytes: number, what: string, allow404: boolean): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const handler = new GetHandler(signal, maxBytes, allow404, what, this.#closer.signal, this.socketPath, resolve, reject);
      this.#pool.dispatch({ path, method: 'GET' }, handler);
    });
  }
}

/**
 * One GET's handler: collects the answer under its cap and settles exactly once, from undici's
 * callbacks or from the signal, whichever comes first. A class, so a request costs one object.
 */
class GetHandler implements Dispatcher.DispatchHandler {
  readonly #signal: AbortSignal;
  readonly #maxBytes: number;
  readonly #allow404: boolean;
  readonly #what: string;
  readonly #closer: AbortSignal;
  readonly #socketPath: string;
  readonly #resolve: (answer: Answer) => void;
  readonly #reject: (err: RuntimeError) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  /** Set for an error status: the body is read (up to MAX_ERROR_BYTES) for the daemon's message only. */
  #failedStatus = false;
  #chunks: Buffer[] = [];
  #total = 0;
  #settled = false;

  constructor(
    signal: AbortSignal,
    maxBytes: number,
    allow404: boolean,
    what: string,
    closer: AbortSignal,
    socketPath: string,
    resolve: (answer: Answer) => void,
    reject: (err: RuntimeError) => void,
  ) {
    this.#signal = signal;
    this.#maxBytes = maxBytes;
    this.#allow404 = allow404;
    this.#what = what;
    this.#closer = closer;
    this.#socketPath = socketPath;
    this.#resolve = resolve;
    this.#reject = reject;
    if (signal.aborted) this.handleEvent();
    else signal.addEventListener('abort', this, { once: true });
  }

  /** The signal aborted: settle now; the request is dropped now or as soon as undici starts it. */
  handleEvent(): void {
    this.#fail(
      this.#closer.aborted
        ? new RuntimeError('docker', 'unavailable', `${this.#what}: client closed`)
        : new RuntimeError('docker', 'timeout', `${this.#what}: no answer before the deadline`),
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#settled) controller.abort(new Error('settled before the request started'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (this.#settled) return;
    this.#status = statusCode;
    this.#failedStatus = !(statusCode === 200 || (statusCode === 404 && this.#allow404));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#total += chunk.length;
    if (this.#failedStatus) {
      if (this.#total > MAX_ERROR_BYTES) {
        this.#fail(statusError(this.#what, this.#status, Buffer.concat(this.#chunks)));
        return;
      }
    } else if (this.#total > this.#maxBytes) {
      this.#fail(new RuntimeError('docker', 'protocol', `${this.#what}: answer larger than ${this.#maxBytes} bytes`));
      return;
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const body = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#total);
    this.#end();
    if (this.#failedStatus) {
      this.#reject(statusError(this.#what, this.#status, body));
      return;
    }
    this.#resolve({ status: this.#status, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#settled) return;
    this.#fail(transportError(err, this.#what, this.#socketPath, ''));
  }

  #fail(err: RuntimeError): void {
    if (this.#settled) return;
    this.#end();
    // Dropping the request destroys its connection: a half-read answer cannot be reused.
    if (this.#controller !== undefined && !this.#controller.aborted) this.#controller.abort(err);
    this.#reject(err);
  }

  #end(): void {
    this.#settled = true;
    this.#chunks = [];
    this.#signal.removeEventListener('abort', this);
  }
}

const EVENTS_PATH = `/events?filters=${encodeURIComponent(JSON.stringify({ type: ['container'], event: Object.keys(WATCHED_ACTIONS) }))}`;

/**
 * One GET /events stream, and its undici handler. Ends exactly once: by close() (silently) or by
 * the stream ending, failing or being refused (onEnd with the reason). No reconnect: the cache
 * owns that.
 */
class DockerEventWatch implements RuntimeWatch, Dispatcher.DispatchHandler {
  readonly #pool: Pool;
  readonly #onEvent: (event: RuntimeEvent) => void;
  readonly #onEnd: (err: Error | undefined) => void;
  readonly #counters: Counters;
  readonly #onDone: (watch: DockerEventWatch) => void;
  readonly #splitter: EventLineSplitter;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #errorBody: Buffer[] | undefined;
  #errorBytes = 0;
  #ended = false;

  constructor(pool: Pool, onEvent: (event: RuntimeEvent) => void, onEnd: (err: Error | undefined) => void, counters: Counters, onDone: (watch: DockerEventWatch) => void) {
    this.#pool = pool;
    this.#onEvent = onEvent;
    this.#onEnd = onEnd;
    this.#counters = counters;
    this.#onDone = onDone;
    this.#splitter = new EventLineSplitter(
      MAX_EVENT_LINE_BYTES,
      (line) => this.#line(line),
      () => this.#counters.malformedEvents++,
    );
  }

  start(): void {
    // `since` now: the engine streams from the moment the watch was asked for, not from when it
    // got to the request, so an event in between (an OOM kill right after a container starts,
    // on a loaded node) is replayed rather than lost. The cache lists after opening the watch.
    const since = (Date.now() / 1000).toFixed(3);
    // A quiet node sends no event for hours: no body timeout on this one.
    this.#pool.dispatch({ path: `${EVENTS_PATH}&since=${since}`, method: 'GET', bodyTimeout: 0 }, this);
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

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#ended) controller.abort(new Error('watch closed'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (this.#ended) return;
    this.#status = statusCode;
    if (statusCode !== 200) this.#errorBody = [];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#ended) return;
    if (this.#errorBody === undefined) {
      this.#splitter.push(chunk);
      return;
    }
    this.#errorBytes += chunk.length;
    if (this.#errorBytes > MAX_ERROR_BYTES) this.#finish(statusError('event stream', this.#status, Buffer.concat(this.#errorBody)));
    else this.#errorBody.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#errorBody !== undefined) this.#finish(statusError('event stream', this.#status, Buffer.concat(this.#errorBody)));
    else this.#finish(new RuntimeError('docker', 'unavailable', 'event stream: the daemon ended it'));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#ended) return;
    const mapped = transportError(err, 'event stream', '', 'socket gone');
    this.#finish(mapped.reason === 'unavailable' && (err as { code?: unknown }).code === 'UND_ERR_SOCKET' ? new RuntimeError('docker', 'unavailable', 'event stream: connection closed', { cause: err }) : mapped);
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
    this.#errorBody = undefined;
    if (this.#controller !== undefined && !this.#controller.aborted) this.#controller.abort(new Error('watch ended'));
    this.#onDone(this);
  }
}
