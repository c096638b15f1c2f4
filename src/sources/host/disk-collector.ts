/**
 * Disks: /proc/diskstats' bytes, operations, merges and time per direction, I/O time and
 * operations in flight, for the devices the disk filter keeps (whole disks by default, decided
 * against the /sys/block listing, re-listed only when an undecided device appears).
 */
import { readdir } from 'node:fs/promises';
import type { Attributes } from '../../model/index.js';
import * as L from '../../native/host-layout.js';
import type { RecordSink } from '../types.js';
import type { BootTime } from './boot-time.js';
import { DiskFilter, type DiskFilterOptions } from './disk-filter.js';
import * as D from './diskstats.js';
import type { HostFiles } from './host-files.js';
import * as M from './metrics.js';
import type { PointFactory } from './point-factory.js';
import { SeriesStarts } from './series-start.js';

interface DiskAttrs {
  readonly read: Attributes;
  readonly write: Attributes;
  readonly device: Attributes;
}

const EMPTY_SET: ReadonlySet<string> = new Set();

export interface DiskCollectorOptions {
  readonly points: PointFactory;
  readonly boot: BootTime;
  /** Row names of the reads, and where /sys/block is. */
  readonly files: HostFiles;
  readonly filter: DiskFilterOptions;
}

export class DiskCollector {
  readonly #points: PointFactory;
  readonly #boot: BootTime;
  readonly #files: HostFiles;
  readonly #filter: DiskFilter;
  readonly #partitions: boolean;
  /** The devices of the last cycle: a device gone drops its attributes with it. */
  #attrs = new Map<string, DiskAttrs>();
  readonly #starts = new SeriesStarts();
  readonly #counters = new Float64Array(D.DISK_FIELDS - 1);
  #wholeDisks: ReadonlySet<string> | undefined;
  #wholeDisksRead = false;

  constructor(options: DiskCollectorOptions) {
    this.#points = options.points;
    this.#boot = options.boot;
    this.#files = options.files;
    this.#filter = new DiskFilter(options.filter);
    this.#partitions = options.filter.partitions;
  }

  /** One read of /proc/diskstats in the reader's layout (host-layout.ts). */
  async collect(sink: RecordSink, v: Float64Array, now: bigint): Promise<void> {
    const rows = v[L.HOST_ROWS]!;
    if (rows === 0) return;
    const diskNames = this.#files.names(L.HOST_DISKSTATS, v);
    if (!this.#partitions && (!this.#wholeDisksRead || diskNames.some((d) => this.#filter.isNew(d)))) {
      // Re-list /sys/block only when a device we have not decided on appears.
      this.#wholeDisks = await this.#listWholeDisks();
      this.#wholeDisksRead = true;
    }
    const names = this.#wholeDisks === undefined ? new Set(diskNames) : EMPTY_SET;
    this.#starts.beginCycle(now);
    const next = new Map<string, DiskAttrs>();
    const points = this.#points;
    for (let r = 0; r < rows; r++) {
      const name = diskNames[r]!;
      if (!this.#filter.accepts(name, this.#wholeDisks, names)) continue;
      const attrs = this.#attrs.get(name) ?? diskAttributes(name);
      next.set(name, attrs);
      // The 11 fields of the row, after major and minor (DISK_* indexes), read in place.
      const at = L.DISK_ROW_START + r * L.DISK_ROW_SIZE + 2;
      // Field 9 (in flight) is a gauge: it must not count as a counter going backwards.
      const counters = this.#counters;
      for (let k = 0; k < D.DISK_IN_PROGRESS; k++) counters[k] = v[at + k]!;
      for (let k = D.DISK_IO_MS; k < D.DISK_FIELDS; k++) counters[k - 1] = v[at + k]!;
      const s = this.#starts.observe(name, counters, this.#boot.startNs);
      sink.offerMetric(points.point(M.DISK_IO, attrs.read, s, now, v[at + D.DISK_READ_SECTORS]! * 512));
      sink.offerMetric(points.point(M.DISK_IO, attrs.write, s, now, v[at + D.DISK_WRITE_SECTORS]! * 512));
      sink.offerMetric(points.point(M.DISK_OPERATIONS, attrs.read, s, now, v[at + D.DISK_READS]!));
      sink.offerMetric(points.point(M.DISK_OPERATIONS, attrs.write, s, now, v[at + D.DISK_WRITES]!));
      sink.offerMetric(points.point(M.DISK_MERGED, attrs.read, s, now, v[at + D.DISK_READS_MERGED]!));
      sink.offerMetric(points.point(M.DISK_MERGED, attrs.write, s, now, v[at + D.DISK_WRITES_MERGED]!));
      sink.offerMetric(points.point(M.DISK_OPERATION_TIME, attrs.read, s, now, v[at + D.DISK_READ_MS]! / 1000));
      sink.offerMetric(points.point(M.DISK_OPERATION_TIME, attrs.write, s, now, v[at + D.DISK_WRITE_MS]! / 1000));
      sink.offerMetric(points.point(M.DISK_IO_TIME, attrs.device, s, now, v[at + D.DISK_IO_MS]! / 1000));
      sink.offerMetric(points.point(M.DISK_PENDING, attrs.device, 0n, now, v[at + D.DISK_IN_PROGRESS]!));
    }
    this.#attrs = next;
    this.#starts.sweep();
  }

  async #listWholeDisks(): Promise<ReadonlySet<string> | undefined> {
    try {
      return new Set(await readdir(this.#files.sysBlockDir));
    } catch {
      return undefined;
    }
  }
}

function diskAttributes(name: string): DiskAttrs {
  return {
    read: Object.freeze({ 'system.device': name, 'disk.io.direction': 'read' }),
    write: Object.freeze({ 'system.device': name, 'disk.io.direction': 'write' }),
    device: Object.freeze({ 'system.device': name }),
  };
}
