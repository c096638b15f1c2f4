/**
 * Network interfaces: /proc/net/dev's bytes, packets, errors and drops per direction, for the
 * interfaces the include/exclude regexes keep (decided once per name).
 */
import type { Attributes } from '../../model/index.js';
import * as L from '../../native/host-layout.js';
import * as N from '../lib/net-dev.js';
import type { RecordSink } from '../types.js';
import type { BootTime } from './boot-time.js';
import type { HostFiles } from './host-files.js';
import * as M from './metrics.js';
import type { PointFactory } from './point-factory.js';
import { SeriesStarts } from './series-start.js';

interface NetAttrs {
  readonly receive: Attributes;
  readonly transmit: Attributes;
}

export interface NetworkCollectorOptions {
  readonly points: PointFactory;
  readonly boot: BootTime;
  /** Row names of the reads. */
  readonly files: HostFiles;
  /** Only interfaces matching this (when set) … */
  readonly include: RegExp | undefined;
  /** … and not matching this get series. */
  readonly exclude: RegExp | undefined;
}

export class NetworkCollector {
  readonly #points: PointFactory;
  readonly #boot: BootTime;
  readonly #files: HostFiles;
  readonly #include: RegExp | undefined;
  readonly #exclude: RegExp | undefined;
  /** The interfaces of the last cycle: one gone drops its attributes with it. */
  #attrs = new Map<string, NetAttrs>();
  readonly #decided = new Map<string, boolean>();
  readonly #starts = new SeriesStarts();

  constructor(options: NetworkCollectorOptions) {
    this.#points = options.points;
    this.#boot = options.boot;
    this.#files = options.files;
    this.#include = options.include;
    this.#exclude = options.exclude;
  }

  /** One read of /proc/net/dev in the reader's layout (host-layout.ts). */
  collect(sink: RecordSink, v: Float64Array, now: bigint): void {
    const rows = v[L.HOST_ROWS]!;
    const nics = this.#files.names(L.HOST_NET_DEV, v);
    this.#starts.beginCycle(now);
    const next = new Map<string, NetAttrs>();
    const points = this.#points;
    for (let r = 0; r < rows; r++) {
      const name = nics[r]!;
      if (!this.#accepts(name)) continue;
      const attrs = this.#attrs.get(name) ?? netAttributes(name);
      next.set(name, attrs);
      const at = L.NET_ROW_START + r * L.NET_ROW_SIZE;
      const s = this.#starts.observe(name, v, this.#boot.startNs, at, at + L.NET_ROW_SIZE);
      sink.offerMetric(points.point(M.NET_IO, attrs.receive, s, now, v[at + N.NET_RX_BYTES]!));
      sink.offerMetric(points.point(M.NET_IO, attrs.transmit, s, now, v[at + N.NET_TX_BYTES]!));
      sink.offerMetric(points.point(M.NET_PACKETS, attrs.receive, s, now, v[at + N.NET_RX_PACKETS]!));
      sink.offerMetric(points.point(M.NET_PACKETS, attrs.transmit, s, now, v[at + N.NET_TX_PACKETS]!));
      sink.offerMetric(points.point(M.NET_ERRORS, attrs.receive, s, now, v[at + N.NET_RX_ERRS]!));
      sink.offerMetric(points.point(M.NET_ERRORS, attrs.transmit, s, now, v[at + N.NET_TX_ERRS]!));
      sink.offerMetric(points.point(M.NET_DROPPED, attrs.receive, s, now, v[at + N.NET_RX_DROP]!));
      sink.offerMetric(points.point(M.NET_DROPPED, attrs.transmit, s, now, v[at + N.NET_TX_DROP]!));
    }
    this.#attrs = next;
    this.#starts.sweep();
  }

  #accepts(name: string): boolean {
    let ok = this.#decided.get(name);
    if (ok === undefined) {
      ok = (this.#include === undefined || this.#include.test(name)) && (this.#exclude === undefined || !this.#exclude.test(name));
      // Bounded: interface names that churn (veths) are decided again after a clear.
      if (this.#decided.size > 4096) this.#decided.clear();
      this.#decided.set(name, ok);
    }
    return ok;
  }
}

function netAttributes(name: string): NetAttrs {
  return {
    receive: Object.freeze({ 'network.interface.name': name, 'network.io.direction': 'receive' }),
    transmit: Object.freeze({ 'network.interface.name': name, 'network.io.direction': 'transmit' }),
  };
}
