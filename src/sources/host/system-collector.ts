/**
 * The whole-system gauges read as text once a cycle: uptime (/proc/uptime) and the kernel's
 * file handles in use and its limit (/proc/sys/fs/file-nr).
 */
import { EMPTY_ATTRIBUTES } from '../../model/index.js';
import type { RecordSink } from '../types.js';
import { parseFileNr } from './file-nr.js';
import type { HostFiles } from './host-files.js';
import * as M from './metrics.js';
import type { PointFactory } from './point-factory.js';
import { parseUptime } from './uptime.js';

export interface SystemCollectorOptions {
  readonly points: PointFactory;
  /** Where a file that read but does not parse is counted. */
  readonly files: HostFiles;
}

export class SystemCollector {
  readonly #points: PointFactory;
  readonly #files: HostFiles;

  constructor(options: SystemCollectorOptions) {
    this.#points = options.points;
    this.#files = options.files;
  }

  collectUptime(sink: RecordSink, text: string, now: bigint): void {
    const u = parseUptime(text);
    if (u === undefined) this.#files.countMalformed('uptime');
    else sink.offerMetric(this.#points.point(M.UPTIME, EMPTY_ATTRIBUTES, 0n, now, u.uptimeSec));
  }

  collectFileNr(sink: RecordSink, text: string, now: bigint): void {
    const f = parseFileNr(text);
    if (f === undefined) {
      this.#files.countMalformed('sys/fs/file-nr');
      return;
    }
    sink.offerMetric(this.#points.point(M.FILE_DESCRIPTORS_ALLOCATED, EMPTY_ATTRIBUTES, 0n, now, f.allocated - f.unused));
    sink.offerMetric(this.#points.point(M.FILE_DESCRIPTORS_MAX, EMPTY_ATTRIBUTES, 0n, now, f.max));
  }
}
