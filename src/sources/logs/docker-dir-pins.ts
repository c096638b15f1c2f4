import { closeSync, existsSync, fstatSync, openSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { type NativePinner, startNativePinner } from '../../native/log-pins.js';
import type { Logger } from '../../self/logger.js';
import { identityKey } from './file-identity.js';
import type { LogDiscovery, LogFile } from './log-discovery.js';
import type { ScanLock } from './scan-lock.js';
import type { TailSet } from './tail-set.js';

/**
 * Docker-directory race handling. At full speed the engine creates a file, rotates it through
 * the max-file names and deletes it within 200–600 ms, while the tail loop may be deep in a turn
 * (a megabyte of records parsed and offered) and the libuv thread pool busy with the tail's reads
 * and the exporter's compression. A descriptor held is what keeps a file's lines, so when a watch
 * reports that a container's log file was created or renamed, the directory is listed and every
 * file in it no tail holds is opened ("pinned") right there, synchronously, in the watch callback:
 * one event-loop wait from the engine's rename to the open, none through the thread pool
 * (measured under load: the pool's readdir and open took 140 and 85 ms, long enough for whole
 * files to come and go). Starting tails for them (a probe, a checkpoint lookup each) waits its
 * turn under the scan lock.
 *
 * The callback itself still waits for the event loop, which a loaded node can hold for 100 ms and
 * more. With the addon, a thread of its own (native/sextant_pin.c) opens each `<id>-json.log` as
 * the engine creates it; the pass then takes those descriptors first, finds each one's name now
 * in the listing, and tails the ones already deleted as rotated files, before the others.
 */

/** Files pinned and not tailed yet, at most (the rescan is the safety net beyond). */
const MAX_PINNED = 1024;
/** How long a new Docker container's directory pass waits for its name to reach the metadata cache. */
const NEW_CONTAINER_DELAY_MS = 100;

/** A file a Docker directory pass opened, waiting to be tailed. */
interface Pinned {
  readonly file: LogFile;
  /** The raw descriptor that keeps the file (a FileHandle is made from it when it is tailed). */
  readonly fd: number;
  readonly key: string;
}

export interface DockerDirPinsOptions {
  readonly discovery: LogDiscovery;
  readonly tails: TailSet;
  readonly lock: ScanLock;
  readonly logger: Logger;
  /** Wakes the tail loop: new tails are waiting for their first turn. */
  readonly poke: () => void;
  /** The addon's pinning thread too, when it loads (config key `native`). */
  readonly native: boolean;
}

export class DockerDirPins {
  readonly #o: DockerDirPinsOptions;
  #running = false;
  /** Files pinned, oldest first, waiting for #adopt (at most MAX_PINNED), and their dev:ino. */
  readonly #pinned: Pinned[] = [];
  readonly #pinnedKeys = new Set<string>();
  #adoptQueued = false;
  /** Docker directories without a tail yet whose pass waits NEW_CONTAINER_DELAY_MS. */
  readonly #pinLater = new Set<string>();
  readonly #adoptFn = (): Promise<void> => this.#adopt();
  #native: NativePinner | undefined;

  constructor(options: DockerDirPinsOptions) {
    this.#o = options;
  }

  /** Watch events are acted on from now on; the addon's thread pins every Docker log file created from now on. */
  start(): void {
    this.#running = true;
    this.#native = startNativePinner(this.#o.discovery.dockerRoots.filter((d) => existsSync(d)), this.#o.native);
  }

  /** Watch events are ignored from now on; the addon's thread stops and closes what it pinned and nobody took. */
  stop(): void {
    this.#running = false;
    this.#native?.stop();
    this.#native = undefined;
  }

  /** The addon's thread is pinning (false: the watch callback's pass alone, the fallback). */
  get nativePinning(): boolean {
    return this.#native !== undefined;
  }

  /**
   * Tails what the addon's thread pinned in directories no watch event named (after each scan):
   * a container directory the full scan has not listed yet has no watch of the agent's own.
   */
  sweep(): void {
    if (this.#running && this.#native !== undefined) this.#pin(undefined);
  }

  /** Closes the files pinned and never tailed (after stop, once the scan lock is idle): nothing of them was read. */
  async closeUntailed(): Promise<void> {
    for (let p = this.#pinned.shift(); p !== undefined; p = this.#pinned.shift()) closeQuietly(p.fd);
    this.#pinnedKeys.clear();
  }

  /**
   * The watch hook: `name` was created, renamed or deleted in this Docker container directory.
   * A new file always appears as `<id>-json.log` (the engine renames the old one away first), so
   * only changes to that name (or one inotify reported without a name) bring a file to pin; the
   * renames down the max-file chain and the deletion at its end do not.
   */
  readonly onDockerDir = (dir: string, name: string | undefined): void => {
    if (!this.#running) return;
    const current = `${dir}/${dir.slice(dir.lastIndexOf('/') + 1)}-json.log`;
    if (name !== undefined && current.slice(dir.length + 1) !== name) return;
    if (this.#o.tails.has(current)) {
      this.#pin(dir);
      return;
    }
    // A container's first file: its start event reaches the metadata cache about now, so the
    // pass waits a moment and the first records carry the container's name. The engine deletes
    // that file only max-file − 1 rotations later, each a megabyte or more (max-size) away.
    if (this.#pinLater.has(dir)) return;
    this.#pinLater.add(dir);
    setTimeout(() => {
      this.#pinLater.delete(dir);
      if (this.#running) this.#pin(dir);
    }, NEW_CONTAINER_DELAY_MS).unref();
  };

  /**
   * One pass over `dir` (undefined: only the directories of files the addon's thread pinned),
   * queueing for #adopt what no tail holds, and waking it.
   */
  #pin(dir: string | undefined): void {
    const native = this.#takeNative();
    let queued = false;
    if (dir !== undefined) {
      queued = this.#pinDir(dir, native.get(dir) ?? []);
      native.delete(dir);
    }
    for (const [d, pins] of native) queued = this.#pinDir(d, pins) || queued;
    if (!queued || this.#adoptQueued) return;
    this.#adoptQueued = true;
    this.#o.lock.exclusive(this.#adoptFn).catch((err: unknown) => {
      this.#o.logger.debug({ err: (err as Error).message }, 'docker log files could not be tailed');
    });
  }

  /** The descriptors the addon's thread opened, by directory, oldest first; those held already closed. */
  #takeNative(): Map<string, Pinned[]> {
    const out = new Map<string, Pinned[]>();
    if (this.#native === undefined) return out;
    const seen = new Set<string>();
    for (const { fd, path } of this.#native.take()) {
      const key = fdKey(fd);
      if (key === undefined || seen.has(key) || this.#o.tails.holds(key) || this.#pinnedKeys.has(key)) {
        closeQuietly(fd);
        continue;
      }
      seen.add(key);
      const d = path.slice(0, path.lastIndexOf('/'));
      let list = out.get(d);
      if (list === undefined) out.set(d, (list = []));
      list.push({ file: { path, realPath: path, format: 'docker-json', rotated: true }, fd, key });
    }
    return out;
  }

  /**
   * Opens every log file of one Docker container directory that no tail holds and none pinned,
   * newest name first (a file the engine renames meanwhile moves to a name not visited yet, never
   * behind the pass), and queues them for #adopt oldest first (a container's records then go out
   * in the order it wrote them). Identity is the descriptor's dev:ino, never the name it was
   * opened by; a stat by name first spares the open for files already held, as all are between
   * rotations. `native` (taken before the listing) are the addon's for this directory: a listed
   * name that is one of them takes its descriptor; one no name lists any more was deleted, so it
   * is older than every listed file and goes first, as a rotated file. True when any was queued.
   */
  #pinDir(dir: string, native: readonly Pinned[]): boolean {
    const { tails } = this.#o;
    const waiting = new Map(native.map((p) => [p.key, p]));
    const got: Pinned[] = [];
    for (const file of this.#o.discovery.listDockerDirSync(dir)) {
      if (this.#pinned.length + got.length >= MAX_PINNED) break;
      const named = statKey(file.realPath);
      if (named === undefined || tails.holds(named) || this.#pinnedKeys.has(named)) continue;
      const held = waiting.get(named);
      if (held !== undefined) {
        waiting.delete(named);
        got.push({ file, fd: held.fd, key: named });
        continue;
      }
      let fd: number;
      try {
        fd = openSync(file.realPath, 'r');
      } catch {
        continue; // renamed on or deleted since the listing: the change that did it comes next
      }
      const key = fdKey(fd);
      if (key === undefined || tails.holds(key) || this.#pinnedKeys.has(key) || waiting.has(key) || got.some((p) => p.key === key)) {
        closeQuietly(fd);
        continue;
      }
      got.push({ file, fd, key });
    }
    const gone: Pinned[] = [];
    for (const p of waiting.values()) {
      if (this.#pinned.length + got.length + gone.length >= MAX_PINNED) closeQuietly(p.fd);
      else gone.push(p);
    }
    for (const p of gone) this.#queue(p);
    for (let i = got.length - 1; i >= 0; i--) this.#queue(got[i]!);
    return gone.length + got.length > 0;
  }

  #queue(p: Pinned): void {
    this.#pinned.push(p);
    this.#pinnedKeys.add(p.key);
  }

  /** Tails the files #pin opened, in the order it queued them (under the scan lock). */
  async #adopt(): Promise<void> {
    this.#adoptQueued = false;
    for (let p = this.#pinned.shift(); p !== undefined; p = this.#pinned.shift()) {
      const fh = this.#running ? await handleFor(p) : undefined;
      closeQuietly(p.fd);
      // Tailed (or found held) before it leaves the pinned set: a pass meanwhile does not open it again.
      if (fh !== undefined) await this.#o.tails.start(p.file, fh, false, p.file.rotated === true, false);
      this.#pinnedKeys.delete(p.key);
    }
    this.#o.poke();
  }
}

/**
 * A FileHandle on the pinned file: `/proc/self/fd/N` opens the very inode the descriptor holds,
 * renamed or deleted since. Without /proc mounted, by its name, kept only if that name still
 * points at the same file: another file under it would be tailed under the wrong identity (the
 * rescan opens names; what only the descriptor kept is then lost).
 */
async function handleFor(p: Pinned): Promise<FileHandle | undefined> {
  try {
    return await open(`/proc/self/fd/${p.fd}`, 'r');
  } catch {
    const fh = await open(p.file.realPath, 'r').catch(() => undefined);
    if (fh === undefined) return undefined;
    const st = await fh.stat({ bigint: true }).catch(() => undefined);
    if (st !== undefined && identityKey(st.dev, st.ino) === p.key) return fh;
    await fh.close().catch(() => undefined);
    return undefined;
  }
}

/** dev:ino of the file a name points at now, or undefined when it is gone. */
function statKey(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st === undefined ? undefined : identityKey(st.dev, st.ino);
  } catch {
    return undefined; // not looked at (permission, I/O): the full scan counts what it cannot list
  }
}

/** dev:ino of an open descriptor, or undefined when it cannot be looked at. */
function fdKey(fd: number): string | undefined {
  try {
    const st = fstatSync(fd, { bigint: true });
    return identityKey(st.dev, st.ino);
  } catch {
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing held.
  }
}
