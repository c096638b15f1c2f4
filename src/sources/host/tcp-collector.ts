/**
 * TCP connections by state: counted over netlink when the agent is in the network namespace
 * reported on (tcp-counter.ts decides, once), else by streaming /proc/net/tcp{,6} through the
 * scratch buffer in chunks of whole lines (net-tcp.ts counts each chunk).
 */
import { open } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Attributes } from '../../model/index.js';
import { TCP_COUNT_UNSUPPORTED, type ProcReader } from '../../native/types.js';
import type { Logger } from '../../self/logger.js';
import type { RecordSink } from '../types.js';
import type { HostFiles } from './host-files.js';
import * as M from './metrics.js';
import { TCP_STATES, TCP_STATE_SLOTS, countTcpStates } from './net-tcp.js';
import type { PointFactory } from './point-factory.js';
import { type TcpCounter, chooseTcpCounter, namespaceId } from './tcp-counter.js';

/** /proc/net/tcp is read in chunks of whole lines: it can be tens of MiB on a busy host. */
const TCP_CHUNK_BYTES = 256 << 10;
/** Past this many bytes of one tcp file the rest is not read (counted as truncated). */
const TCP_MAX_BYTES = 64 << 20;

export interface TcpCollectorOptions {
  readonly points: PointFactory;
  /** The tcp files, the scratch buffer they stream through, and their failure counting. */
  readonly files: HostFiles;
  /** Counts over netlink (the native reader; the pure-JS one answers "not supported"). */
  readonly reader: ProcReader;
  readonly logger: Logger;
}

export class TcpCollector {
  readonly #points: PointFactory;
  readonly #files: HostFiles;
  readonly #reader: ProcReader;
  readonly #logger: Logger;
  readonly #counts = new Float64Array(TCP_STATE_SLOTS);
  /** Decided at the first count (tcp-counter.ts); 'files' for good after netlink fails once. */
  #counter: TcpCounter | undefined;
  readonly #attrs: (Attributes | undefined)[] = TCP_STATES.map((s) =>
    s === undefined ? undefined : Object.freeze({ 'network.connection.state': s, 'network.transport': 'tcp' }),
  );

  constructor(options: TcpCollectorOptions) {
    this.#points = options.points;
    this.#files = options.files;
    this.#reader = options.reader;
    this.#logger = options.logger;
  }

  async collect(sink: RecordSink, now: bigint): Promise<void> {
    const counts = this.#counts;
    if (!this.#countNetlink(counts)) {
      counts.fill(0);
      const v4 = await this.#countFile('net/tcp');
      const v6 = await this.#countFile('net/tcp6');
      if (!v4 && !v6) return;
    }
    for (let st = 1; st < TCP_STATES.length; st++) {
      sink.offerMetric(this.#points.point(M.NET_CONNECTIONS, this.#attrs[st]!, 0n, now, counts[st]!));
    }
  }

  /**
   * Counts over netlink when the agent is in the namespace reported on (decided once); false
   * when the files must be read. A failure (no tcp_diag, EPERM, the JS reader's "not supported")
   * switches to the files for good, with one log line: netlink would fail the same way again.
   */
  #countNetlink(counts: Float64Array): boolean {
    if (this.#counter === undefined) {
      const choice = chooseTcpCounter(namespaceId('/proc/self/ns/net'), namespaceId(this.#files.netNsFile));
      this.#counter = choice.counter;
      this.#logger.debug({ counter: choice.counter, reason: choice.reason }, 'tcp connection counting');
    }
    if (this.#counter !== 'netlink') return false;
    const rc = this.#reader.countTcpStates(counts);
    if (rc < 0) {
      this.#counter = 'files';
      // The pure-JS reader never has netlink: expected, so not worth an info line.
      const level = rc === TCP_COUNT_UNSUPPORTED ? 'debug' : 'info';
      this.#logger[level]({ errno: errnoName(-rc), reader: this.#reader.implementation }, 'tcp connections not counted over netlink; reading /proc/net/tcp{,6} instead');
      return false;
    }
    // The files count NEW_SYN_RECV (12, a request socket) as syn_recv; so does this.
    counts[3]! += counts[12]!;
    return true;
  }

  /** Streams one tcp file through the scratch buffer in chunks of whole lines. */
  async #countFile(file: 'net/tcp' | 'net/tcp6'): Promise<boolean> {
    const files = this.#files;
    let fh;
    try {
      fh = await open(files.path(file), 'r');
    } catch (err) {
      files.readFailed(file, err);
      return false;
    }
    const buf = files.scratch.subarray(0, TCP_CHUNK_BYTES);
    let carry = 0;
    let total = 0;
    let malformed = 0;
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, carry, buf.length - carry, null);
        total += bytesRead;
        const filled = carry + bytesRead;
        const lastNl = buf.lastIndexOf(10, filled - 1);
        if (bytesRead === 0 || total > TCP_MAX_BYTES) {
          // Whatever is left is a final line without a newline (or the cap was hit).
          if (filled > 0) malformed += countTcpStates(buf.toString('latin1', 0, filled), this.#counts);
          if (total > TCP_MAX_BYTES) files.countMalformed(file);
          break;
        }
        if (lastNl === -1) {
          if (filled === buf.length) {
            // One line longer than the chunk: not a tcp file.
            files.countMalformed(file);
            return false;
          }
          carry = filled;
          continue;
        }
        malformed += countTcpStates(buf.toString('latin1', 0, lastNl + 1), this.#counts);
        carry = filled - (lastNl + 1);
        buf.copy(buf, 0, lastNl + 1, filled);
      }
    } catch (err) {
      files.readFailed(file, err);
      return false;
    } finally {
      await fh.close();
    }
    if (malformed > 0) files.countMalformed(file, malformed);
    files.markReadable(file);
    return true;
  }
}

/** `ENOENT` for 2; the number itself when Node does not name it. */
function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === errno) return name;
  return String(errno);
}
