import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../io/state-file.js';
import { resourceVersionOrder } from './event.js';

/**
 * How far Kubernetes events have been delivered: the highest resourceVersion of an event the
 * output took. Event resourceVersions of one resource are ordered (KEP-5504, Kubernetes 1.35;
 * etcd revisions before that), every change of an event (a series count going up) gets a new
 * one, and a watch delivers them in that order, so "everything up to here was sent" is one
 * number — and a restart sends exactly the events above it, never the last hour again.
 *
 * Kept in two places. A file in the gateway's data directory (written atomically after every
 * delivered batch, before the next one is sent) carries it across restarts of this gateway;
 * an annotation on the Lease (written with every renewal) carries it to the next leader, which
 * may be another replica with another disk. The next leader starts from the higher of the two.
 */

export const LEASE_ANNOTATION = 'sextant.io/events-delivered-resource-version';

interface FileShape {
  readonly apiServer: string;
  readonly resourceVersion: string;
}

export class EventCheckpoint {
  readonly #file: string;
  readonly #apiServer: string;
  #delivered: bigint | undefined;
  #saving: Promise<void> | undefined;
  #pending = false;

  constructor(file: string, apiServer: string) {
    this.#file = file;
    this.#apiServer = apiServer;
  }

  /** The highest delivered resourceVersion known here; undefined before anything was delivered. */
  get delivered(): bigint | undefined {
    return this.#delivered;
  }

  /** What the file says (for this API server); undefined when there is none or it is unreadable. */
  async load(): Promise<bigint | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const f = JSON.parse(text) as Partial<FileShape>;
      // Another cluster's watermark means nothing here.
      if (f.apiServer !== this.#apiServer || typeof f.resourceVersion !== 'string') return undefined;
      return resourceVersionOrder(f.resourceVersion);
    } catch {
      return undefined;
    }
  }

  /** Starts a term from `rv` (the higher of the file and the Lease), or from nothing. */
  reset(rv: bigint | undefined): void {
    this.#delivered = rv;
  }

  /**
   * Everything up to `rv` was delivered: remembered at once, written to the file before this
   * resolves. Writes never overlap; a newer value waiting behind a write replaces older ones.
   */
  async advance(rv: bigint): Promise<void> {
    if (this.#delivered !== undefined && rv <= this.#delivered) return;
    this.#delivered = rv;
    this.#pending = true;
    while (this.#saving !== undefined) await this.#saving;
    if (!this.#pending) return;
    this.#pending = false;
    const body = JSON.stringify({ apiServer: this.#apiServer, resourceVersion: String(this.#delivered) } satisfies FileShape);
    this.#saving = writeFileAtomic(this.#file, `${body}\n`).finally(() => (this.#saving = undefined));
    await this.#saving;
  }

  /** The annotation the Lease carries for the next leader. */
  annotation(): Readonly<Record<string, string>> {
    return this.#delivered === undefined ? {} : { [LEASE_ANNOTATION]: String(this.#delivered) };
  }
}
