import type { Resource } from '../../model/index.js';
import { ProcessGroup } from './process-group.js';
import { groupResource, kernelGroupResource, otherGroupResource, rebaseResource } from './process-resource.js';

/**
 * Cycles an empty group is kept (still exported, with 0 members) before it is dropped, so a
 * group whose only process restarts now and then keeps one series instead of a new one each time.
 */
export const GROUP_IDLE_CYCLES = 3;

/**
 * The groups of one source, at most `maxGroups` named ones plus `kernel` and `other`. A key is
 * admitted while there is room and stays until its group has been empty for a few cycles;
 * processes of keys that found no room are counted under `other` (and move to their own group
 * at their next details refresh, should room appear).
 */
export class GroupTable {
  readonly #named = new Map<string, ProcessGroup>();
  #host: Resource;
  readonly #max: number;
  #kernel: ProcessGroup | undefined;
  #other: ProcessGroup | undefined;
  /** Every group, rebuilt when one is added or dropped, for the per-cycle loops. */
  #all: ProcessGroup[] = [];

  constructor(host: Resource, maxGroups: number) {
    this.#host = host;
    this.#max = maxGroups;
  }

  get all(): readonly ProcessGroup[] {
    return this.#all;
  }

  get size(): number {
    return this.#all.length;
  }

  /** The group for `key`, created if there is room, else `other`. */
  resolve(key: string, exeName: string, containerId: string | undefined, owner: string | undefined, start: bigint, hasPrevious: boolean): ProcessGroup {
    const g = this.#named.get(key);
    if (g !== undefined) return g;
    if (this.#named.size >= this.#max) {
      this.#other ??= this.#add(new ProcessGroup('\u0000other', otherGroupResource(this.#host), start, hasPrevious));
      return this.#other;
    }
    const created = new ProcessGroup(key, groupResource(this.#host, key, exeName, containerId, owner), start, hasPrevious);
    this.#named.set(key, created);
    return this.#add(created);
  }

  kernel(start: bigint, hasPrevious: boolean): ProcessGroup {
    this.#kernel ??= this.#add(new ProcessGroup('\u0000kernel', kernelGroupResource(this.#host), start, hasPrevious));
    return this.#kernel;
  }

  /** The host identity changed: groups made from now on, and every existing one, name the new host. */
  setHost(host: Resource): void {
    for (const g of this.#all) g.resource = rebaseResource(g.resource, this.#host, host);
    this.#host = host;
  }

  isOther(g: ProcessGroup): boolean {
    return g === this.#other;
  }

  beginCycle(): void {
    for (const g of this.#all) g.beginCycle();
  }

  /** Drops groups empty for longer than GROUP_IDLE_CYCLES. Call after every member was added. */
  sweep(): void {
    let dropped = false;
    for (const g of this.#all) {
      if (g.members > 0) {
        g.idleCycles = 0;
        continue;
      }
      if (++g.idleCycles <= GROUP_IDLE_CYCLES) continue;
      dropped = true;
      if (g === this.#kernel) this.#kernel = undefined;
      else if (g === this.#other) this.#other = undefined;
      else this.#named.delete(g.key);
    }
    if (dropped) this.#all = this.#all.filter((g) => g.idleCycles <= GROUP_IDLE_CYCLES);
  }

  #add(g: ProcessGroup): ProcessGroup {
    this.#all.push(g);
    return g;
  }
}
