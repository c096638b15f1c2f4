/**
 * Scans run one at a time: the loop's rescans and the tailing of the files a Docker directory
 * pass opened (which a watch event starts at once, even while a file's turn is being read), each
 * after the one queued before it.
 */
export class ScanLock {
  #last: Promise<void> = Promise.resolve();

  /** Runs `fn` once every scan queued before it has finished. */
  exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.#last.then(fn);
    this.#last = run.catch(() => undefined);
    return run;
  }

  /** Settles once every scan queued so far has finished (never rejects). */
  idle(): Promise<void> {
    return this.#last;
  }
}
