import { type FileHandle, open } from 'node:fs/promises';
import type { Logger } from '../../self/logger.js';
import type { LogDiscovery, LogFile } from './log-discovery.js';
import type { ScanLock } from './scan-lock.js';
import type { TailSet } from './tail-set.js';

/**
 * Docker-directory race handling. At full speed the engine creates a file, rotates it through
 * the max-file names and deletes it within 200–600 ms, while the tail loop may be deep in a turn
 * (a megabyte of records parsed and offered, each read's lines one stretch of the event loop). A
 * descriptor held is what keeps a file's lines, so when a watch reports a change in a container
 * directory, the directory is listed and every file in it no tail holds is opened ("pinned")
 * right now, outside the scan lock: three event-loop waits (the watch callback, readdir, open)
 * from the engine's rename to the open. Starting tails for them (a probe, a checkpoint lookup
 * each) waits its turn under the scan lock.
 */

/** Files opened by Docker directory passes and not tailed yet, at most (the rescan is the safety net beyond). */
const MAX_PINNED = 1024;
/** How long a new Docker container's directory pass waits for its name to reach the metadata cache. */
const NEW_CONTAINER_DELAY_MS = 100;

/** A file a Docker directory pass opened, waiting to be tailed. */
interface Pinned {
  readonly file: LogFile;
  readonly fh: FileHandle;
  readonly key: string;
}

export interface DockerDirPinsOptions {
  readonly discovery: LogDiscovery;
  readonly tails: TailSet;
  readonly lock: ScanLock;
  readonly logger: Logger;
  /** Wakes the tail loop: new tails are waiting for their first turn. */
  readonly poke: () => void;
}

export class DockerDirPins {
  readonly #o: DockerDirPinsOptions;
  #running = false;
  /** Files a Docker directory pass opened, oldest first, waiting for #adopt (at most MAX_PINNED). */
  readonly #pinned: Pinned[] = [];
  #adoptQueued = false;
  /** Docker directories with a pass in flight, and those changed again meanwhile. */
  readonly #pinning = new Set<string>();
  readonly #pinAgain = new Set<string>();
  /** Docker directories without a tail yet whose pass waits NEW_CONTAINER_DELAY_MS. */
  readonly #pinLater = new Set<string>();
  readonly #adoptFn = (): Promise<void> => this.#adopt();

  constructor(options: DockerDirPinsOptions) {
    this.#o = options;
  }

  /** Watch events are acted on from now on. */
  start(): void {
    this.#running = true;
  }

  /** Watch events are ignored from now on, and passes in flight open nothing more. */
  stop(): void {
    this.#running = false;
  }

  /** Closes the files opened and never tailed (after stop, once the scan lock is idle): nothing of them was read. */
  async closeUntailed(): Promise<void> {
    for (let p = this.#pinned.shift(); p !== undefined; p = this.#pinned.shift()) await p.fh.close().catch(() => undefined);
  }

  /** The watch hook: a file was created, renamed or deleted in this Docker container directory. */
  readonly onDockerDir = (dir: string): void => {
    if (!this.#running) return;
    if (this.#o.tails.has(`${dir}/${dir.slice(dir.lastIndexOf('/') + 1)}-json.log`)) {
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

  #pin(dir: string): void {
    if (this.#pinning.has(dir)) {
      this.#pinAgain.add(dir);
      return;
    }
    this.#pinning.add(dir);
    this.#pinDir(dir).catch((err: unknown) => {
      this.#o.logger.debug({ err: (err as Error).message }, 'docker log directory pass failed');
    });
  }

  /**
   * Opens every file of one Docker container directory that no tail holds, and queues it for
   * #adopt, oldest first (a container's records then go out in the order it wrote them).
   * The opens go out side by side: a file the engine renames meanwhile may be opened twice or
   * not at all, but that rename changed the directory again, and the change that reports it
   * runs this once more. Identity is the descriptor's dev:ino, never the name it was opened by.
   */
  async #pinDir(dir: string): Promise<void> {
    try {
      do {
        this.#pinAgain.delete(dir);
        const files = await this.#o.discovery.listDockerDir(dir);
        const handles = await Promise.all(files.map(openOrNothing));
        const keys = await Promise.all(handles.map(keyOf));
        for (let i = files.length - 1; i >= 0; i--) {
          const fh = handles[i];
          if (fh === undefined) continue;
          const key = keys[i];
          if (!this.#running || key === undefined || this.#o.tails.holds(key) || this.#pinned.length >= MAX_PINNED || this.#pinned.some((p) => p.key === key)) {
            await fh.close().catch(() => undefined);
            continue;
          }
          this.#pinned.push({ file: files[i]!, fh, key });
        }
        if (this.#pinned.length > 0 && !this.#adoptQueued) {
          this.#adoptQueued = true;
          this.#o.lock.exclusive(this.#adoptFn).catch((err: unknown) => {
            this.#o.logger.debug({ err: (err as Error).message }, 'docker log files could not be tailed');
          });
        }
      } while (this.#running && this.#pinAgain.has(dir));
    } finally {
      this.#pinning.delete(dir);
      this.#pinAgain.delete(dir);
    }
  }

  /** Tails the files #pinDir opened, in the order it queued them (under the scan lock). */
  async #adopt(): Promise<void> {
    this.#adoptQueued = false;
    for (let p = this.#pinned.shift(); p !== undefined; p = this.#pinned.shift()) {
      if (!this.#running) await p.fh.close().catch(() => undefined);
      else await this.#o.tails.start(p.file, p.fh, false, p.file.rotated === true, false);
    }
    this.#o.poke();
  }
}

/** The file opened for reading, or undefined when its name is gone (renamed or deleted meanwhile). */
function openOrNothing(file: LogFile): Promise<FileHandle | undefined> {
  return open(file.realPath, 'r').catch(() => undefined);
}

/** dev:ino of an open file, or undefined when there is none (or it cannot be looked at). */
async function keyOf(fh: FileHandle | undefined): Promise<string | undefined> {
  if (fh === undefined) return undefined;
  try {
    const st = await fh.stat({ bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}
