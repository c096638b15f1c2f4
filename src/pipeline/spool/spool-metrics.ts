import type { BoundCounter, Counter, Registry } from '../../self/registry.js';
import type { ScanProblem } from './segment-scan.js';
import { SPOOL_SIGNALS, type SpoolSignal } from './segment-format.js';

/** The spool's self-metrics (`sextant_spool_*`, docs/metrics.md), label text made once. */
export interface SpoolMetrics {
  readonly written: Readonly<Record<SpoolSignal, BoundCounter>>;
  readonly writtenBytes: BoundCounter;
  readonly replayed: Readonly<Record<SpoolSignal, BoundCounter>>;
  readonly corrupt: Counter;
  readonly writeErrors: Counter;
  readonly refused: BoundCounter;
  readonly syncs: BoundCounter;
}

export function createSpoolMetrics(registry: Registry): SpoolMetrics {
  const written = registry.counter('sextant_spool_written_batches_total', 'Export requests written to the disk spool, by signal.');
  const replayed = registry.counter('sextant_spool_replayed_batches_total', 'Spooled export requests the endpoint acknowledged (or refused for good), by signal.');
  const bySignal = (c: Counter): Record<SpoolSignal, BoundCounter> => {
    const out = {} as Record<SpoolSignal, BoundCounter>;
    for (const s of SPOOL_SIGNALS) out[s] = c.bind({ signal: s });
    return out;
  };
  return {
    written: bySignal(written),
    writtenBytes: registry.counter('sextant_spool_written_bytes_total', 'Bytes appended to the disk spool (records and their headers).').bind(),
    replayed: bySignal(replayed),
    corrupt: registry.counter('sextant_spool_corrupt_total', 'Spool damage found and cut off, by reason (header: segment removed; torn, checksum: cut at the last good record; unreadable).'),
    writeErrors: registry.counter('sextant_spool_write_errors_total', 'Spool writes that failed (full disk, I/O error), by errno code; the batch stays in memory and is sent directly.'),
    refused: registry.counter('sextant_spool_refused_total', 'Batches the spool had no room for (full: logs wait in their files, metrics drop oldest).').bind(),
    syncs: registry.counter('sextant_spool_syncs_total', 'fdatasync calls on the active segment (log checkpoints advance after them).').bind(),
  };
}

/** Counts what a start-up scan found. */
export function countScanProblem(m: SpoolMetrics, problem: ScanProblem): void {
  m.corrupt.inc({ reason: problem });
}
