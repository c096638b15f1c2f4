/**
 * The host's kernel files as the host source reads them: where each lives under the host root
 * (the host's /proc, the host's network namespace, /sys/block), one read per file into reused
 * buffers, and what a failure costs: counted every time, logged once until the file reads
 * again; an optional file the kernel lacks (no IPv6, no PSI) is said once at debug level.
 */
import path from 'node:path';
import { readCapped } from '../../io/read-capped.js';
import * as L from '../../native/host-layout.js';
import type { ProcReader } from '../../native/types.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Registry } from '../../self/registry.js';

/** /proc/stat on a 1,024-CPU machine is ~150 KiB; 1 MiB leaves room and bounds a hostile file. */
const SCRATCH_BYTES = 1 << 20;

/** Files the source reads; the label of their error counters. */
const FILES = [
  'stat', 'meminfo', 'loadavg', 'vmstat', 'diskstats', 'net/dev', 'net/tcp', 'net/tcp6', 'uptime',
  'sys/fs/file-nr', 'pressure/cpu', 'pressure/memory', 'pressure/io', 'mountinfo', 'statfs',
] as const;
export type HostFile = (typeof FILES)[number];

/** Files some kernels lack (no IPv6, no PSI): absent means skip, with one debug line. */
const OPTIONAL = new Set<HostFile>(['net/tcp6', 'pressure/cpu', 'pressure/memory', 'pressure/io', 'sys/fs/file-nr']);

export interface HostFilesOptions {
  /** Where the host's filesystem is mounted (`/` on the host itself). */
  readonly hostRoot: string;
  /** Parses the every-cycle files (native or pure JS). */
  readonly reader: ProcReader;
  readonly registry: Registry;
  readonly logger: Logger;
}

export class HostFiles {
  readonly #procDir: string;
  /** The host's network namespace: /proc/1/net under a host root, else /proc/net. */
  readonly #netDir: string;
  /** The nsfs file of #netDir's namespace, compared with our own to allow netlink TCP counting. */
  readonly #netNsFile: string;
  readonly #sysBlockDir: string;
  readonly #reader: ProcReader;
  readonly #logger: Logger;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  readonly #errors = {} as Record<HostFile, BoundCounter>;
  readonly #malformed = {} as Record<HostFile, BoundCounter>;
  readonly #failing = new Set<HostFile>();
  readonly #absent = new Set<HostFile>();
  /** One output array per file kind (host-layout.ts), grown when a host has more rows. */
  readonly #out: Float64Array[] = Array.from({ length: L.HOST_KINDS }, () => new Float64Array(256));
  /** Per kind with names: the generation of `#rowNames` (NaN: never asked). */
  readonly #namesGen = new Float64Array(L.HOST_KINDS).fill(NaN);
  readonly #rowNames: (readonly string[])[] = Array.from({ length: L.HOST_KINDS }, () => []);

  constructor(options: HostFilesOptions) {
    const root = options.hostRoot;
    const underRoot = path.resolve(root) !== '/';
    this.#procDir = path.join(root, 'proc');
    this.#netDir = underRoot ? path.join(root, 'proc/1/net') : path.join(root, 'proc/net');
    // /proc/net is /proc/self/net: without a host root the files are our own namespace's too.
    this.#netNsFile = underRoot ? path.join(root, 'proc/1/ns/net') : '/proc/self/ns/net';
    this.#sysBlockDir = path.join(root, 'sys/block');
    this.#reader = options.reader;
    this.#logger = options.logger;
    const readErrors = options.registry.counter('sextant_source_read_errors_total', 'Files a source could not read, by source and file.');
    const parseErrors = options.registry.counter('sextant_source_malformed_total', 'Lines or files a source could not parse, by source and file.');
    for (const f of FILES) {
      this.#errors[f] = readErrors.bind({ source: 'host', file: f });
      this.#malformed[f] = parseErrors.bind({ source: 'host', file: f });
    }
  }

  /** `<root>/proc`. */
  get procDir(): string {
    return this.#procDir;
  }

  get netNsFile(): string {
    return this.#netNsFile;
  }

  /** `<root>/sys/block`: one entry per whole disk. */
  get sysBlockDir(): string {
    return this.#sysBlockDir;
  }

  /** The 1 MiB buffer every read goes through; the tcp files are streamed through it too. */
  get scratch(): Buffer {
    return this.#scratch;
  }

  path(file: HostFile): string {
    if (file === 'net/dev' || file === 'net/tcp' || file === 'net/tcp6') return path.join(this.#netDir, file.slice(4));
    return path.join(this.#procDir, file);
  }

  /** Reads one file as text; a failure is counted every time and logged once until it recovers. */
  async read(file: HostFile, at = this.path(file)): Promise<string | undefined> {
    try {
      const text = await readCapped(at, this.#scratch);
      this.markReadable(file);
      this.#absent.delete(file);
      return text;
    } catch (err) {
      this.readFailed(file, err);
      return undefined;
    }
  }

  /** A read whose failure is not an error (the caller has a fallback). */
  async readQuiet(at: string): Promise<string | undefined> {
    try {
      return await readCapped(at, this.#scratch);
    } catch {
      return undefined;
    }
  }

  /**
   * Reads and parses one every-cycle file through the reader into this kind's output array
   * (host-layout.ts), growing it when the host has more rows than fit. Failures as `read`.
   */
  readHost(file: HostFile, kind: L.HostFileKind): Float64Array | undefined {
    const at = this.path(file);
    let out = this.#out[kind]!;
    let need = this.#reader.readHostFile(kind, at, out);
    // A file that grew between two reads (hot-plugged CPUs) is given a few chances, not a loop.
    for (let tries = 0; need > out.length && tries < 3; tries++) {
      out = this.#out[kind] = new Float64Array(need * 2);
      need = this.#reader.readHostFile(kind, at, out);
    }
    if (need < 0 || need > out.length) {
      const code = need < 0 ? this.#reader.hostError : 'EAGAIN';
      const message = code === 'EFBIG' ? `${at} is larger than ${L.HOST_FILE_CAP} bytes` : `${code}: cannot read ${at}`;
      this.readFailed(file, { code, message });
      return undefined;
    }
    this.markReadable(file);
    this.#absent.delete(file);
    const malformed = out[L.HOST_MALFORMED]!;
    if (malformed > 0) this.#malformed[file].inc(malformed);
    return out;
  }

  /** The row names of the last read of `kind`, fetched from the reader only when they changed. */
  names(kind: L.HostFileKind, out: Float64Array): readonly string[] {
    const gen = out[L.HOST_NAMES_GEN]!;
    if (gen !== this.#namesGen[kind]) {
      this.#rowNames[kind] = this.#reader.hostNames(kind);
      this.#namesGen[kind] = gen;
    }
    return this.#rowNames[kind]!;
  }

  readFailed(file: HostFile, err: unknown): void {
    if (OPTIONAL.has(file) && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      // Normal on kernels without PSI or IPv6: not an error; say so once.
      if (!this.#absent.has(file)) {
        this.#absent.add(file);
        this.#logger.debug({ file }, 'host file absent on this kernel; its metrics are skipped');
      }
      return;
    }
    this.#errors[file].inc();
    if (!this.#failing.has(file)) {
      this.#failing.add(file);
      this.#logger.warn({ file, err: (err as Error).message }, 'cannot read host file; its metrics are skipped until it reads again');
    }
  }

  /** A read of `file` succeeded: says so once if it had been failing. */
  markReadable(file: HostFile): void {
    if (this.#failing.delete(file)) this.#logger.info({ file }, 'host file readable again');
  }

  /** Forgets a failure of `file` without a log line; true when it had been failing. */
  clearFailure(file: HostFile): boolean {
    return this.#failing.delete(file);
  }

  countMalformed(file: HostFile, count = 1): void {
    this.#malformed[file].inc(count);
  }

  countReadError(file: HostFile): void {
    this.#errors[file].inc();
  }
}
