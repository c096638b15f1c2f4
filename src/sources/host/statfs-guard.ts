/**
 * statfs(2) with a deadline, without ever stacking calls on a hung mount.
 *
 * A statfs on a dead NFS/CIFS server blocks in the kernel, and Node runs it on one of the four
 * libuv threadpool threads: a hung call cannot be cancelled and holds its thread until the
 * server answers. If every cycle issued another, four cycles would stall all file I/O of the
 * agent (log tailing, checkpoints, /proc reads). So:
 * - each call races a timer (default 2 s); on timeout the mount is reported `hung`;
 * - while a call on a path is still pending, no second call on that path is made: the pending
 *   call is the background probe, and the mount is tried again only after it returns;
 * - `pendingCount` tells the caller how many threads are tied up, so it can stop issuing calls
 *   that might hang (network filesystems) past a limit.
 */
export interface StatfsNumbers {
  /** Fundamental block size (`f_frsize`; what Node's `bsize` reports on Linux). */
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
}

export type StatfsFn = (path: string) => Promise<StatfsNumbers>;

export type StatfsResult =
  | { readonly status: 'ok'; readonly stats: StatfsNumbers }
  | { readonly status: 'timeout' }
  /** An earlier call on this path has not returned yet: no new call was made. */
  | { readonly status: 'hung' }
  | { readonly status: 'error'; readonly error: Error };

const HUNG: StatfsResult = Object.freeze({ status: 'hung' });
const TIMEOUT: StatfsResult = Object.freeze({ status: 'timeout' });

export class StatfsGuard {
  readonly #statfs: StatfsFn;
  readonly #timeoutMs: number;
  /** Paths whose call has outlived its deadline and not returned yet. */
  readonly #pending = new Set<string>();

  constructor(statfs: StatfsFn, timeoutMs: number) {
    this.#statfs = statfs;
    this.#timeoutMs = timeoutMs;
  }

  /** Calls past their deadline and still holding a threadpool thread. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  isHung(path: string): boolean {
    return this.#pending.has(path);
  }

  async stat(path: string): Promise<StatfsResult> {
    if (this.#pending.has(path)) return HUNG;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const call = this.#statfs(path).then(
      (stats): StatfsResult => ({ status: 'ok', stats }),
      (err: unknown): StatfsResult => ({ status: 'error', error: err instanceof Error ? err : new Error(String(err)) }),
    );
    // When the call finally returns after its deadline, the mount may be tried again.
    void call.then(() => {
      if (timedOut) this.#pending.delete(path);
    });
    const deadline = new Promise<StatfsResult>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        this.#pending.add(path);
        resolve(TIMEOUT);
      }, this.#timeoutMs);
      // A pending timer must not keep a stopping agent alive.
      timer.unref();
    });
    try {
      return await Promise.race([call, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
