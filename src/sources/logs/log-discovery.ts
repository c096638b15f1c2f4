import { type Dirent, type FSWatcher, readdirSync, watch } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';

/**
 * Which log files exist now: kubelet's pod logs, Docker's json-file logs and configured plain
 * files, found by a scan of the directories that hold them. A scan runs on an interval (the
 * safety net: inotify drops events when its queue overflows, and a directory created between
 * two watches is not watched yet) and soon after a watched directory changes (so a new
 * container's log is picked up within moments, not a rescan interval later).
 *
 *   <root>/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log      CRI format
 *   <root>/var/lib/docker/containers/<id>/<id>-json.log                  Docker json-file
 *   configured globs (`*` within one path segment)                      plain text
 *
 * Rotated files (`0.log.20261125-101500`, `-json.log.1`) are listed marked `rotated`: the tailer
 * finishes a file it holds through its handle, and reads a rotated file it never held only when
 * its checkpoint (or its appearing after the first scan) says it has unread lines — a writer
 * rotating twice between two scans loses nothing. Gzipped ones (kubelet's `0.log.<ts>.gz`,
 * Docker's `-json.log.N.gz` with `compress`) are listed `compressed` too: read only from the
 * checkpoint of the file they were compressed from, when that file was not finished.
 *
 * Symlinks: a listed path that is a link is resolved, and refused (counted) when it resolves
 * outside the configured roots, so a planted link cannot make the agent ship `/etc/shadow`.
 */

export type LogFormat = 'cri' | 'docker-json' | 'plain';

export interface LogFile {
  /** As found (under the host root). */
  readonly path: string;
  /** The resolved path; equal to `path` unless a link was followed. */
  readonly realPath: string;
  readonly format: LogFormat;
  /** A rotated file (`0.log.<timestamp>`, `-json.log.N`): read only when it holds lines not read yet. */
  readonly rotated?: boolean;
  /** A gzipped rotated file: read only from a checkpoint of its uncompressed original. */
  readonly compressed?: boolean;
}

export interface LogDiscoveryOptions {
  readonly hostRoot: string;
  /** Host paths of kubelet's pod log directories; default `/var/log/pods`. */
  readonly podLogDirs?: readonly string[];
  /** Host paths of Docker's container directories; default `/var/lib/docker/containers`. */
  readonly dockerDirs?: readonly string[];
  /** Host path globs of plain text files (`/var/log/app/*.log`): `*` matches within a segment. */
  readonly globs?: readonly string[];
  /** Most files listed per scan (a node with more is reported truncated, never unbounded). */
  readonly maxFiles?: number;
}

export interface ScanResult {
  readonly files: LogFile[];
  /** Links that resolved outside every configured root. */
  readonly refused: number;
  /** Directories that could not be listed (permission, I/O), not counting ones that vanished. */
  readonly unreadable: number;
  readonly truncated: boolean;
  /**
   * The directories below the roots that were listed (pod, container and Docker container
   * directories): the ones to watch, so a log file created in a directory that was still empty
   * at this scan is noticed at once rather than at the next interval rescan.
   */
  readonly dirs: string[];
}

export interface WatchHooks {
  /**
   * A file was created, renamed or deleted in this Docker container directory (called at once,
   * from the watch callback), with the name inotify reported when it reported one.
   */
  readonly dockerDir?: (dir: string, name: string | undefined) => void;
  /** A watched file was written to. */
  readonly activity?: () => void;
}

const DEFAULT_MAX_FILES = 100_000;
const CRI_FILE = /^\d+\.log$/;
/** kubelet's rotated name, and the gzipped one kubelet makes of all but the newest. */
const CRI_ROTATED = /^\d+\.log\.\d{8}-\d{6}$/;
const CRI_COMPRESSED = /^\d+\.log\.\d{8}-\d{6}\.gz$/;
const DOCKER_ID = /^[0-9a-f]{64}$/;
/** Changes are coalesced: a burst of container starts is one rescan. */
const HINT_DELAY_MS = 100;

export class LogDiscovery {
  readonly #root: string;
  readonly #podDirs: string[];
  readonly #dockerDirs: string[];
  readonly #globs: string[][];
  /** Resolved paths a link may point into: the configured directories and the globs' fixed prefixes. */
  readonly #allowed: string[];
  readonly #maxFiles: number;
  /** Watched directory → its watcher; kept across calls, so a directory stays watched without a gap. */
  #watchers = new Map<string, FSWatcher>();
  #onHint: (() => void) | undefined;
  #hooks: WatchHooks = {};
  #hintTimer: NodeJS.Timeout | undefined;
  #hintRescan = false;

  constructor(options: LogDiscoveryOptions) {
    this.#root = options.hostRoot.endsWith('/') ? options.hostRoot.slice(0, -1) : options.hostRoot;
    const under = (p: string): string => this.#root + p;
    this.#podDirs = (options.podLogDirs ?? ['/var/log/pods']).map(under);
    this.#dockerDirs = (options.dockerDirs ?? ['/var/lib/docker/containers']).map(under);
    this.#globs = (options.globs ?? []).map((g) => under(g).split('/'));
    this.#allowed = [...this.#podDirs, ...this.#dockerDirs, ...this.#globs.map(fixedPrefix)];
    this.#maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  }

  /** Docker's containers directories (under the host root), as configured. */
  get dockerRoots(): readonly string[] {
    return this.#dockerDirs;
  }

  /** The resolved roots links may point into (resolved once: a root may itself be a link, as /var/log often is). */
  async #allowedRoots(): Promise<string[]> {
    const out: string[] = [];
    for (const a of this.#allowed) {
      out.push(a);
      try {
        out.push(await realpath(a));
      } catch {
        // Not there (yet): its literal path is all there is.
      }
    }
    return out;
  }

  async scan(): Promise<ScanResult> {
    const files: LogFile[] = [];
    const dirs: string[] = [];
    const state = { refused: 0, unreadable: 0, truncated: false };
    const allowed = await this.#allowedRoots();
    const add = async (path: string, format: LogFormat, entry: Dirent, rotated = false, compressed = false): Promise<void> => {
      if (files.length >= this.#maxFiles) {
        state.truncated = true;
        return;
      }
      if (entry.isFile()) {
        files.push(compressed ? { path, realPath: path, format, rotated, compressed } : rotated ? { path, realPath: path, format, rotated } : { path, realPath: path, format });
        return;
      }
      if (rotated) return; // a rotated link is not something a runtime writes
      if (!entry.isSymbolicLink()) return;
      let real: string;
      try {
        real = await realpath(path);
      } catch {
        return; // dangling: nothing to read
      }
      if (!allowed.some((root) => real === root || real.startsWith(root + '/'))) {
        state.refused++;
        return;
      }
      files.push({ path, realPath: real, format });
    };

    for (const dir of this.#podDirs) {
      for (const pod of await this.#list(dir, state)) {
        if (!pod.isDirectory()) continue;
        const podDir = `${dir}/${pod.name}`;
        dirs.push(podDir);
        for (const container of await this.#list(podDir, state)) {
          if (!container.isDirectory()) continue;
          const cDir = `${podDir}/${container.name}`;
          dirs.push(cDir);
          for (const f of await this.#list(cDir, state)) {
            if (CRI_FILE.test(f.name)) await add(`${cDir}/${f.name}`, 'cri', f);
            else if (CRI_ROTATED.test(f.name)) await add(`${cDir}/${f.name}`, 'cri', f, true);
            else if (CRI_COMPRESSED.test(f.name)) await add(`${cDir}/${f.name}`, 'cri', f, true, true);
          }
        }
      }
    }
    for (const dir of this.#dockerDirs) {
      for (const c of await this.#list(dir, state)) {
        if (!c.isDirectory() || !DOCKER_ID.test(c.name)) continue;
        const want = `${c.name}-json.log`;
        dirs.push(`${dir}/${c.name}`);
        for (const f of await this.#list(`${dir}/${c.name}`, state)) {
          if (f.name === want) await add(`${dir}/${c.name}/${f.name}`, 'docker-json', f);
          else if (f.name.startsWith(want + '.') && /^\d{1,6}$/.test(f.name.slice(want.length + 1))) await add(`${dir}/${c.name}/${f.name}`, 'docker-json', f, true);
          else if (f.name.startsWith(want + '.') && /^\d{1,6}\.gz$/.test(f.name.slice(want.length + 1))) await add(`${dir}/${c.name}/${f.name}`, 'docker-json', f, true, true);
        }
      }
    }
    for (const glob of this.#globs) await this.#expand(glob, 1, '', state, add);
    return { files, ...state, dirs };
  }

  /**
   * Calls `onHint` soon after a file or directory is created, renamed or deleted in the watched
   * directories: the roots and `dirs` (call again after each scan with its `dirs`: directories no
   * longer listed stop being watched, new ones start, the others stay watched without a gap).
   * Returns how many directories started being watched now: a file created in one of them
   * between the scan that listed it and this call gave no hint, so the caller scans once more. A
   * watch that cannot be set (inotify limit) is simply absent: the interval rescan covers it.
   *
   * `hooks.dockerDir`, when given, is called at once (not coalesced) instead of `onHint` for such
   * a change in a Docker container directory: the engine rotates at full speed (a file lives a
   * few hundred milliseconds from its creation to max-file deleting it), so that directory is
   * looked at alone and right away (`listDockerDirSync`). `hooks.activity` is called (coalesced
   * like `onHint`) when a watched file is written to: nothing to scan, but an idle tailer has
   * lines to read; without it, a write is a hint as any other change.
   */
  watch(dirs: readonly string[], onHint: () => void, hooks: WatchHooks = {}): number {
    this.#onHint = onHint;
    this.#hooks = hooks;
    const want = new Set([...this.#podDirs, ...this.#dockerDirs, ...dirs]);
    for (const [d, w] of this.#watchers) {
      if (want.has(d)) continue;
      w.close();
      this.#watchers.delete(d);
    }
    let added = 0;
    for (const d of want) {
      if (this.#watchers.has(d)) continue;
      try {
        // One listener per directory (not per event); it knows once whether its directory is a
        // Docker container's.
        const docker = this.#isDockerDir(d);
        const w = watch(d, { persistent: false }, (event, name) => {
          if (event === 'change') {
            this.#hint(this.#hooks.activity === undefined);
            return;
          }
          const dockerDir = this.#hooks.dockerDir;
          if (docker && dockerDir !== undefined) dockerDir(d, name ?? undefined);
          else this.#hint(true);
        });
        // A watched directory removed (a pod gone): forget it, so it is watched again if it returns.
        w.on('error', () => {
          w.close();
          if (this.#watchers.get(d) === w) this.#watchers.delete(d);
        });
        this.#watchers.set(d, w);
        added++;
      } catch {
        // Missing or beyond the inotify limit: the rescan interval is the safety net.
      }
    }
    return added;
  }

  /**
   * The log files of one Docker container directory now, newest first: `-json.log`, then
   * `-json.log.1`, `.2` … (a caller opening them in this order while the engine renames each one
   * a place further sees a file move to a name it has not opened yet, never skip past one).
   * Plain files only: a link is the full scan's business (it checks where it points).
   *
   * Synchronous on purpose: it runs inside a watch callback (docker-dir-pins.ts), where the
   * few microseconds of one getdents on a handful of names are cheaper than a trip through the
   * libuv thread pool, which the tail's reads and the exporter's compression keep busy.
   */
  listDockerDirSync(dir: string): LogFile[] {
    const id = dir.slice(dir.lastIndexOf('/') + 1);
    const want = `${id}-json.log`;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return []; // gone (the container removed): the full scan lets its tails finish
    }
    const files: LogFile[] = [];
    const order: number[] = [];
    for (const f of entries) {
      if (!f.isFile()) continue;
      let n = -1;
      if (f.name === want) n = 0;
      else if (f.name.startsWith(want + '.') && /^\d{1,6}$/.test(f.name.slice(want.length + 1))) n = Number(f.name.slice(want.length + 1));
      if (n < 0) continue;
      const path = `${dir}/${f.name}`;
      // Insertion into a handful of names (max-file): kept sorted by rotation number.
      let i = order.length;
      while (i > 0 && order[i - 1]! > n) i--;
      order.splice(i, 0, n);
      files.splice(i, 0, n === 0 ? { path, realPath: path, format: 'docker-json' } : { path, realPath: path, format: 'docker-json', rotated: true });
    }
    return files;
  }

  #isDockerDir(d: string): boolean {
    const slash = d.lastIndexOf('/');
    return DOCKER_ID.test(d.slice(slash + 1)) && this.#dockerDirs.includes(d.slice(0, slash));
  }

  /**
   * One timer for a burst of changes: a burst of container starts is one rescan, a burst of
   * writes one wake-up (`rescan` false: only `hooks.activity`). The delay also lets a new
   * container's start event reach the metadata cache before its first lines are read.
   */
  #hint(rescan: boolean): void {
    if (rescan) this.#hintRescan = true;
    if (this.#hintTimer) return;
    this.#hintTimer = setTimeout(() => {
      this.#hintTimer = undefined;
      const full = this.#hintRescan;
      this.#hintRescan = false;
      if (full) this.#onHint?.();
      else this.#hooks.activity?.();
    }, HINT_DELAY_MS);
    this.#hintTimer.unref();
  }

  unwatch(): void {
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    if (this.#hintTimer) clearTimeout(this.#hintTimer);
    this.#hintTimer = undefined;
  }

  async #expand(
    segs: readonly string[],
    i: number,
    at: string,
    state: { unreadable: number },
    add: (path: string, format: LogFormat, entry: Dirent) => Promise<void>,
  ): Promise<void> {
    // Fixed segments are walked without listing; a wildcard segment lists its directory.
    let dir = at;
    while (i < segs.length - 1 && !segs[i]!.includes('*')) dir += '/' + segs[i++]!;
    const seg = segs[i]!;
    const last = i === segs.length - 1;
    const match = segmentMatcher(seg);
    for (const e of await this.#list(dir === '' ? '/' : dir, state)) {
      if (!match(e.name)) continue;
      const p = `${dir}/${e.name}`;
      if (last) {
        if (e.isFile() || e.isSymbolicLink()) await add(p, 'plain', e);
      } else if (e.isDirectory()) {
        await this.#expand(segs, i + 1, p, state, add);
      }
    }
  }

  async #list(dir: string, state: { unreadable: number }): Promise<Dirent[]> {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') state.unreadable++;
      return [];
    }
  }
}

/** The directory part of a glob before its first wildcard segment. */
function fixedPrefix(segs: readonly string[]): string {
  const fixed: string[] = [];
  for (const s of segs.slice(0, -1)) {
    if (s.includes('*')) break;
    fixed.push(s);
  }
  return fixed.join('/') || '/';
}

function segmentMatcher(seg: string): (name: string) => boolean {
  if (!seg.includes('*')) return (name) => name === seg;
  const re = new RegExp('^' + seg.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
  // Hidden files only when the pattern asks for them, as shells do.
  return (name) => (name.startsWith('.') && !seg.startsWith('.') ? false : re.test(name));
}
