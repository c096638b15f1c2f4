import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Attributes } from '../model/attributes.js';
import { createResource, type Resource } from '../model/index.js';

/** OTel `host.arch` values for Node's `process.arch`. */
const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

async function readSmall(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function firstLine(file: string): Promise<string | undefined> {
  const text = await readSmall(file);
  if (text === undefined) return undefined;
  const line = text.split('\n', 1)[0]!.trim();
  return line === '' ? undefined : line;
}

/**
 * `PRETTY_NAME` from os-release(5): `KEY=value` lines, the value optionally in single or double
 * quotes with backslash escapes inside double quotes.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!/^[A-Z0-9_]+$/.test(key)) continue;
    let value = line.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\`$])/g, '$1');
    }
    out[key] = value;
  }
  return out;
}

/** The static facts of the host read from files at start: cheap, a few small reads. */
export async function hostAttributes(hostRoot: string): Promise<Attributes> {
  const underRoot = path.resolve(hostRoot) !== '/';
  const name = (underRoot ? await firstLine(path.join(hostRoot, 'etc/hostname')) : undefined) ?? os.hostname();
  const machineId = await firstLine(path.join(hostRoot, 'etc/machine-id'));
  const kernel = await firstLine(path.join(hostRoot, 'proc/sys/kernel/osrelease'));
  const osRelease = (await readSmall(path.join(hostRoot, 'etc/os-release'))) ?? (await readSmall(path.join(hostRoot, 'usr/lib/os-release')));
  const pretty = osRelease === undefined ? undefined : parseOsRelease(osRelease)['PRETTY_NAME'];
  return {
    'host.name': name,
    ...(machineId ? { 'host.id': machineId } : {}),
    'host.arch': ARCH[process.arch] ?? process.arch,
    'os.type': 'linux',
    ...(pretty ? { 'os.description': pretty } : {}),
    ...(kernel ? { 'os.version': kernel } : {}),
  };
}

/** What `systeminformation` tells that the files above do not; every field optional. */
export interface HostInventory {
  readonly cpuModelName?: string;
  readonly cpuVendorId?: string;
  readonly cpuFamily?: string;
  readonly cpuModelId?: string;
  readonly cpuStepping?: string;
  /** Bytes. */
  readonly cpuCacheL2Size?: number;
  /** Bytes. */
  readonly memorySize?: number;
}

export type InventoryReader = (hostRoot: string) => Promise<HostInventory>;

type SystemInformation = typeof import('systeminformation');

/**
 * Runs `read` with `systeminformation` loaded, then takes the package out of the CJS cache, so
 * its ~50 modules (sources, ~0.9 MB, and compiled code) can be collected: the inventory is read
 * once at start and on SIGHUP, and kept loaded the package cost an idle agent 2.3–2.6 MB of
 * RssAnon (BENCHMARKS.md M2.3). An ESM `import()` would keep it in the ESM loader's module map
 * for the process's life. A `require` of its own per call (createRequire), so no long-lived
 * module lists the package among its children.
 */
async function withSystemInformation<T>(read: (si: SystemInformation) => Promise<T>): Promise<T> {
  const require = createRequire(import.meta.url);
  const main = require.resolve('systeminformation');
  // The package's directory, not main's: it also requires its package.json at its root.
  const pkg = `${path.sep}systeminformation${path.sep}`;
  const dir = main.slice(0, main.lastIndexOf(pkg) + pkg.length);
  try {
    return await read(require(main) as SystemInformation);
  } finally {
    for (const k of Object.keys(require.cache)) if (k.startsWith(dir)) delete require.cache[k];
  }
}

/**
 * Reads the inventory with `systeminformation` (loaded lazily and unloaded after: ~25 ms to
 * import, ~20 ms for cpu()+mem() on a 2-core VM, more where it spawns dmidecode). The vendor id
 * is the CPUID string (`GenuineIntel`) from the host's /proc/cpuinfo, which systeminformation
 * shortens to `Intel`.
 */
export async function readInventory(hostRoot: string): Promise<HostInventory> {
  const [cpu, mem, cpuinfo] = await withSystemInformation((si) => Promise.all([si.cpu(), si.mem(), readSmall(path.join(hostRoot, 'proc/cpuinfo'))]));
  const vendorLine = cpuinfo?.match(/^vendor_id\s*:\s*(.+)$/m)?.[1]?.trim();
  const modelName = [cpu.manufacturer, cpu.brand].filter((s) => s && s.trim() !== '').join(' ').trim();
  return {
    ...(modelName ? { cpuModelName: modelName } : {}),
    ...(vendorLine || cpu.vendor ? { cpuVendorId: vendorLine || cpu.vendor } : {}),
    ...(cpu.family ? { cpuFamily: String(cpu.family) } : {}),
    ...(cpu.model ? { cpuModelId: String(cpu.model) } : {}),
    ...(cpu.stepping ? { cpuStepping: String(cpu.stepping) } : {}),
    ...(cpu.cache?.l2 > 0 ? { cpuCacheL2Size: cpu.cache.l2 } : {}),
    ...(mem.total > 0 ? { memorySize: mem.total } : {}),
  };
}

export function inventoryAttributes(inv: HostInventory): Attributes {
  const a: Record<string, string | number> = {};
  if (inv.cpuModelName !== undefined) a['host.cpu.model.name'] = inv.cpuModelName;
  if (inv.cpuVendorId !== undefined) a['host.cpu.vendor.id'] = inv.cpuVendorId;
  if (inv.cpuFamily !== undefined) a['host.cpu.family'] = inv.cpuFamily;
  if (inv.cpuModelId !== undefined) a['host.cpu.model.id'] = inv.cpuModelId;
  if (inv.cpuStepping !== undefined) a['host.cpu.stepping'] = inv.cpuStepping;
  if (inv.cpuCacheL2Size !== undefined) a['host.cpu.cache.l2.size'] = inv.cpuCacheL2Size;
  if (inv.memorySize !== undefined) a['sextant.host.memory.size'] = inv.memorySize;
  return a;
}

/**
 * The host's identity as a resource that can grow once. `create` reads the files (fast) and
 * returns at once; the `systeminformation` inventory is started concurrently and merged when it
 * arrives, so it never delays the first collection cycle. Whoever holds the resource subscribes
 * with `onChange` (the host source's `setResource`) and swaps to the richer object; a resource
 * is immutable, so records already in flight keep the one they were made with.
 *
 * `reload()` (SIGHUP) reads files and inventory again. Neither runs on the hot path.
 */
export class HostIdentity {
  readonly #hostRoot: string;
  readonly #readInventory: InventoryReader;
  readonly #listeners: ((r: Resource) => void)[] = [];
  #base: Attributes;
  #inventory: Attributes = {};
  #resource: Resource;
  #pending: Promise<Resource> | undefined;

  private constructor(hostRoot: string, base: Attributes, reader: InventoryReader) {
    this.#hostRoot = hostRoot;
    this.#base = base;
    this.#resource = createResource(base);
    this.#readInventory = reader;
  }

  /** Reads the files and starts the inventory read in the background. */
  static async create(hostRoot: string, options: { readInventory?: InventoryReader } = {}): Promise<HostIdentity> {
    const id = new HostIdentity(hostRoot, await hostAttributes(hostRoot), options.readInventory ?? readInventory);
    void id.inventory();
    return id;
  }

  /** The resource as of now (files only until the inventory arrives). */
  get resource(): Resource {
    return this.#resource;
  }

  onChange(listener: (r: Resource) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Resolves to the resource with the inventory merged (once read; later calls return the same
   * result). A failed inventory read leaves the file-based resource: the inventory is a nicety.
   */
  inventory(): Promise<Resource> {
    this.#pending ??= this.#loadInventory();
    return this.#pending;
  }

  /** SIGHUP: read files and inventory again; listeners hear of a changed resource. */
  async reload(): Promise<Resource> {
    this.#base = await hostAttributes(this.#hostRoot);
    this.#pending = this.#loadInventory();
    return this.#pending;
  }

  async #loadInventory(): Promise<Resource> {
    try {
      this.#inventory = inventoryAttributes(await this.#readInventory(this.#hostRoot));
    } catch {
      // systeminformation missing or failing: the resource stays as the files made it.
    }
    const next = createResource({ ...this.#base, ...this.#inventory });
    if (next.key !== this.#resource.key) {
      this.#resource = next;
      for (const l of this.#listeners) l(next);
    }
    return this.#resource;
  }
}
