/**
 * Which /proc/diskstats devices get series. diskstats lists whole disks and their partitions
 * alike; summing both would count every byte twice, so partitions are skipped by default.
 *
 * A name present in `/sys/block` is a whole disk (sd*, nvme0n1, dm-0, md0 …); partitions live
 * only under their disk (`/sys/block/sda/sda1`). Without /sys (a container that mounts only
 * the host's /proc) a name heuristic stands in: `<disk><digits>` or `<disk ending in a
 * digit>p<digits>` where `<disk>` is another device of the same list.
 */
export interface DiskFilterOptions {
  /** Only names matching this (when set) … */
  readonly include: RegExp | undefined;
  /** … and not matching this get series. */
  readonly exclude: RegExp | undefined;
  /** Keep partitions too. */
  readonly partitions: boolean;
}

export class DiskFilter {
  readonly #options: DiskFilterOptions;
  /** Decision per device name, so the regexes and /sys lookup run once per name. */
  readonly #decided = new Map<string, boolean>();

  constructor(options: DiskFilterOptions) {
    this.#options = options;
  }

  /**
   * Whether `name` gets series. `wholeDisks` is the listing of /sys/block (undefined when it
   * cannot be read); `allNames` the names in the same diskstats read, for the fallback.
   */
  accepts(name: string, wholeDisks: ReadonlySet<string> | undefined, allNames: ReadonlySet<string>): boolean {
    let ok = this.#decided.get(name);
    if (ok === undefined) {
      const o = this.#options;
      ok = (o.include === undefined || o.include.test(name)) && (o.exclude === undefined || !o.exclude.test(name));
      if (ok && !o.partitions) ok = !(wholeDisks ? !wholeDisks.has(name) : looksLikePartition(name, allNames));
      // Only remember decisions made with /sys: the heuristic depends on which disks were listed.
      if (wholeDisks !== undefined) this.#decided.set(name, ok);
    }
    return ok;
  }

  /** True when `name` was never decided (a new device): the caller re-lists /sys/block. */
  isNew(name: string): boolean {
    return !this.#decided.has(name);
  }
}

/** `sda1` of `sda`, `nvme0n1p2` of `nvme0n1`, `mmcblk0p1` of `mmcblk0`. */
export function looksLikePartition(name: string, allNames: ReadonlySet<string>): boolean {
  let i = name.length;
  while (i > 0 && isDigit(name.charCodeAt(i - 1))) i--;
  if (i === name.length || i === 0) return false;
  const base = name.slice(0, i);
  if (allNames.has(base) && !isDigit(base.charCodeAt(base.length - 1))) return true;
  if (base.endsWith('p') && base.length > 1 && isDigit(base.charCodeAt(base.length - 2))) return allNames.has(base.slice(0, -1));
  return false;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
