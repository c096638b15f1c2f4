import { stat } from 'node:fs/promises';
import type { Counter } from '../../self/registry.js';
import { pathNames } from './file-identity.js';
import type { FileTail } from './file-tail.js';
import type { FinishedFiles } from './finished-files.js';
import type { LogDiscovery, LogFile, WatchHooks } from './log-discovery.js';
import type { ScanLock } from './scan-lock.js';
import type { TailSet } from './tail-set.js';

/**
 * The rescans: which log files exist now, which of them to start tailing (and from where), which
 * tails' files were renamed away or deleted (rotated: read to their end, then let go), which
 * rotated files still hold lines never read, and which directories to watch. A scan is due on the
 * interval, and soon after a watch hint; it runs under the scan lock.
 */

export interface LogScannerOptions {
  readonly discovery: LogDiscovery;
  readonly tails: TailSet;
  readonly finished: FinishedFiles;
  readonly lock: ScanLock;
  readonly problems: Counter;
  /** Files present at the first start (no checkpoint) are read from their end unless 'beginning'. */
  readonly readFrom: 'end' | 'beginning';
  readonly rescanIntervalMs: number;
  /** Wakes the tail loop (a hint: a scan is due). */
  readonly poke: () => void;
  /** Called at once when a Docker container directory changes (docker-dir-pins.ts). */
  readonly dockerDir: (dir: string, name: string | undefined) => void;
  /** Called after each scan: Docker log files pinned where no watch of the scan's reported a change (docker-dir-pins.ts). */
  readonly afterScan: () => void;
  /** When the checkpoints loaded at start were written (epoch ms; undefined after a fresh start). */
  readonly stateTime: () => number | undefined;
}

export class LogScanner {
  readonly #o: LogScannerOptions;
  #rescanDue = true;
  #firstScan = true;
  /** No checkpoint state was found at start (set before the first scan). */
  #freshStart = true;
  #lastScanAt = 0;
  readonly #rescanFn = (): Promise<void> => this.#rescan();
  readonly #onHint = (): void => {
    this.#rescanDue = true;
    this.#o.poke();
  };
  readonly #hooks: WatchHooks;

  constructor(options: LogScannerOptions) {
    this.#o = options;
    this.#hooks = { dockerDir: options.dockerDir, activity: options.poke };
  }

  /**
   * Only a start with no checkpoints at all is a first start: after a restart, a file the store
   * does not know appeared while the agent was down and is read from its start.
   */
  set freshStart(fresh: boolean) {
    this.#freshStart = fresh;
  }

  /** A directory changed, or a file was let go: scan before the next file's turn. */
  get rescanDue(): boolean {
    return this.#rescanDue;
  }

  markDue(): void {
    this.#rescanDue = true;
  }

  /** A scan is due now: asked for, or the interval has passed. */
  dueAt(now: number): boolean {
    return this.#rescanDue || now - this.#lastScanAt >= this.#o.rescanIntervalMs;
  }

  /** Scans once every scan queued before has finished. */
  rescan(): Promise<void> {
    return this.#o.lock.exclusive(this.#rescanFn);
  }

  async #rescan(): Promise<void> {
    const { discovery, tails, finished, problems } = this.#o;
    this.#rescanDue = false;
    this.#lastScanAt = Date.now();
    const first = this.#firstScan;
    this.#firstScan = false;
    const scan = await discovery.scan();
    if (scan.refused > 0) problems.inc({ kind: 'refused_link' }, scan.refused);
    if (scan.unreadable > 0) problems.inc({ kind: 'unreadable' }, scan.unreadable);
    const live = new Set<string>();
    const rotatedNow = new Set<string>();
    for (const f of scan.files) {
      if (f.rotated) {
        if (!first) await this.#openRotated(f, rotatedNow);
        else {
          // Present at the start: after a restart it is finished from its checkpoint if the
          // store knows it; any other one (read before, or older than a first start) is marked
          // finished, or a later scan would take it for a file rotated unseen and read it all.
          if (!this.#freshStart) {
            // After a restart: finished from its checkpoint if the store knows it; one it does
            // not know that changed after the previous run last wrote its state appeared after
            // that (or just before a crash), so none of its lines was made durable: read it all.
            const after = this.#o.stateTime();
            if (f.compressed === true) await tails.openCompressed(f, after);
            else await tails.open(f, false, true, !(await changedAfter(f, after)));
          }
          if (!this.#freshStart || this.#o.readFrom === 'end') await this.#markFinished(f);
        }
        continue;
      }
      live.add(f.path);
      const t = tails.get(f.path);
      if (t !== undefined) {
        // The path now names a new file: tail it too, from its start (TailSet.start moves the old
        // tail aside, to finish its file). One marked rotated while its name was briefly
        // missing (the engine renames, then creates) may have a successor by now too.
        if (t.rotated || (await renamedAway(t))) await tails.open(f, false);
        continue;
      }
      await tails.open(f, first && this.#freshStart && this.#o.readFrom === 'end');
    }
    if (!first) finished.keepOnly(rotatedNow);
    // A file no longer listed was deleted or renamed away: the reader reads it to its end.
    for (const t of tails.values()) if (!t.rotated && !live.has(t.file.path)) t.rotated = true;
    const dirs = new Set<string>(scan.dirs);
    for (const t of tails.values()) dirs.add(t.file.path.slice(0, t.file.path.lastIndexOf('/')));
    const added = discovery.watch([...dirs], this.#onHint, this.#hooks);
    // A file created in a directory between its listing above and its watch gave no hint: look
    // once more (a short-lived container's whole log could otherwise wait for the interval rescan
    // and be deleted by then). Converges: the next scan adds no watch unless new dirs appeared.
    if (added > 0) this.#rescanDue = true;
    this.#o.afterScan();
  }

  /** A rotated file present at the start that no tail took: not to be read (see #rescan). */
  async #markFinished(file: LogFile): Promise<void> {
    try {
      const st = await stat(file.realPath, { bigint: true });
      const key = `${st.dev}:${st.ino}`;
      if (!this.#o.tails.holds(key)) this.#o.finished.set(key, `${st.size}:${st.mtimeNs}`);
    } catch {
      // Gone already.
    }
  }

  /**
   * A rotated file not held by any tail: read what of it was not read yet — from its checkpoint,
   * or all of it when it appeared after the first scan (rotated twice between two scans).
   */
  async #openRotated(file: LogFile, seen: Set<string>): Promise<void> {
    let key: string;
    let stamp: string;
    try {
      const st = await stat(file.realPath, { bigint: true });
      key = `${st.dev}:${st.ino}`;
      stamp = `${st.size}:${st.mtimeNs}`;
    } catch {
      return;
    }
    seen.add(key);
    if (this.#o.tails.holds(key) || this.#o.finished.get(key) === stamp) return;
    // The name may be another file by the open (the engine renames at full speed): the one
    // opened is tailed for what it is; the one stat saw moved on, so look again soon.
    const got = file.compressed === true ? await this.#o.tails.openCompressed(file) : await this.#o.tails.open(file, false, true);
    if (got !== undefined && got !== key) this.#rescanDue = true;
  }
}

/** The file was modified after `after` (epoch ms); false when `after` is undefined or the file is gone. */
async function changedAfter(file: LogFile, after: number | undefined): Promise<boolean> {
  if (after === undefined) return false;
  try {
    return (await stat(file.realPath)).mtimeMs > after;
  } catch {
    return false;
  }
}

/** The tail's path names another file now than the one it holds (or none). */
async function renamedAway(t: FileTail): Promise<boolean> {
  return !(await pathNames(t.file.realPath, t.reader.identity.key));
}
