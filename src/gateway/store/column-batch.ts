import { createRequire } from 'node:module';
import { BIGINT, BOOLEAN, DOUBLE, DuckDBDataChunk, INTEGER, UTINYINT, VARCHAR, type DuckDBAppender, type DuckDBType } from '@duckdb/node-api';
import type * as Bindings from '@duckdb/node-bindings';

/*
 * The C API underneath @duckdb/node-api (its own dependency, pinned with it by the lockfile).
 * The node-api vectors keep a JS cache per item and a BigInt validity mask that allocates on
 * every set; filling the chunk's vectors here directly is what lets a string cell cost one
 * native call and a numeric column one copy per chunk.
 */
const duckdb = createRequire(import.meta.url)('@duckdb/node-bindings') as typeof Bindings;

/** Column types the store's tables use. `bigint` takes a number (exact below 2^53) or a bigint. */
export type ColumnKind = 'integer' | 'utinyint' | 'bigint' | 'double' | 'varchar' | 'boolean';

const TYPES: Readonly<Record<ColumnKind, DuckDBType>> = {
  integer: INTEGER,
  utinyint: UTINYINT,
  bigint: BIGINT,
  double: DOUBLE,
  varchar: VARCHAR,
  boolean: BOOLEAN,
};

/** DuckDB's vector size: the most rows one data chunk carries. */
const CHUNK_ROWS = 2048;

/**
 * A cell. A varchar cell may be the UTF-8 bytes themselves (a view into a request body the
 * scanner checked): DuckDB copies them as they are, with no JS string made and re-encoded.
 */
export type Cell = number | bigint | string | boolean | Uint8Array | null;

// Scratch shared by every batch (one writer, appends never interleave).
const scratch = new ArrayBuffer(CHUNK_ROWS * 8);
const scratchBig = new BigInt64Array(scratch);
const scratchF64 = new Float64Array(scratch);
const scratchI32 = new Int32Array(scratch);
const scratchU8 = new Uint8Array(scratch);
/** The validity mask of one column of a chunk: bit k set = row k is not NULL. */
const validity = new Uint8Array(CHUNK_ROWS / 8);

/**
 * Rows for one table, held column by column until the writer appends them. Appending goes
 * through DuckDB data chunks of 2,048 rows: each numeric column crosses into DuckDB as one typed
 * array copy per chunk, a string as one native call, NULLs as one validity mask per column.
 * Measured on the log ingest bench: the node-api vectors' per-item setters (a BigInt mask
 * operation per cell once a column has a NULL) cost about as much as everything else the writer
 * does per record.
 */
export class ColumnBatch {
  readonly table: string;
  readonly kinds: readonly ColumnKind[];
  /** One array per column, `rows` long. */
  readonly columns: Cell[][];
  #rows = 0;
  #chunk: DuckDBDataChunk | undefined;

  constructor(table: string, kinds: readonly ColumnKind[]) {
    this.table = table;
    this.kinds = kinds;
    this.columns = kinds.map(() => []);
  }

  get rows(): number {
    return this.#rows;
  }

  /** Adds one row, its cells in column order (for rows counted in thousands, not millions). */
  add(...cells: Cell[]): void {
    const cols = this.columns;
    for (let i = 0; i < cols.length; i++) cols[i]!.push(cells[i] ?? null);
    this.#rows++;
  }

  /**
   * Counts `n` rows a hot loop pushed to `columns` itself (one push per column per row), which
   * spares it the argument array `add` makes per row.
   */
  endRows(n: number): void {
    this.#rows += n;
  }

  /** Drops the rows after the first `n` (what a request that failed half-way had added). */
  truncate(n: number): void {
    if (n > this.#rows) return;
    // Also cells a hot loop pushed for a row it never ended.
    for (const c of this.columns) if (c.length > n) c.length = n;
    this.#rows = n;
  }

  clear(): void {
    for (const c of this.columns) c.length = 0;
    this.#rows = 0;
  }

  /** Appends every row held to the appender of this table (which must have these columns, in order). */
  appendTo(appender: DuckDBAppender): void {
    if (this.#rows === 0) return;
    const wrapper = (this.#chunk ??= DuckDBDataChunk.create(this.kinds.map((k) => TYPES[k])));
    const chunk = wrapper.chunk;
    for (let offset = 0; offset < this.#rows; offset += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, this.#rows - offset);
      duckdb.data_chunk_reset(chunk);
      duckdb.data_chunk_set_size(chunk, n);
      for (let c = 0; c < this.kinds.length; c++) {
        const vector = duckdb.data_chunk_get_vector(chunk, c);
        const nulls = fillVector(vector, this.kinds[c]!, this.columns[c]!, offset, n);
        if (nulls > 0) {
          duckdb.vector_ensure_validity_writable(vector);
          duckdb.copy_data_to_vector_validity(vector, 0, validity.buffer, 0, Math.ceil(n / 64) * 8);
        }
      }
      appender.appendDataChunk(wrapper);
    }
  }
}

/** Writes rows [offset, offset + n) of one column into `vector`; returns the NULLs, marked in `validity`. */
function fillVector(vector: Bindings.Vector, kind: ColumnKind, values: readonly Cell[], offset: number, n: number): number {
  validity.fill(0xff);
  let nulls = 0;
  let width: number;
  switch (kind) {
    case 'varchar':
      for (let k = 0; k < n; k++) {
        const v = values[offset + k];
        if (typeof v === 'string') duckdb.vector_assign_string_element(vector, k, v);
        else if (v instanceof Uint8Array) duckdb.vector_assign_string_element_len(vector, k, v);
        else {
          validity[k >>> 3]! &= ~(1 << (k & 7));
          nulls++;
        }
      }
      return nulls;
    case 'bigint':
      for (let k = 0; k < n; k++) {
        const v = values[offset + k];
        if (v === null || v === undefined) {
          scratchBig[k] = 0n;
          validity[k >>> 3]! &= ~(1 << (k & 7));
          nulls++;
        } else if (typeof v === 'bigint') {
          // As the node-api vector refused it: a silent wrap would store another time.
          if (BigInt.asIntN(64, v) !== v) throw new RangeError('bigint out of int64 range');
          scratchBig[k] = v;
        } else scratchBig[k] = BigInt(v as number);
      }
      width = 8;
      break;
    case 'double':
      for (let k = 0; k < n; k++) {
        const v = values[offset + k];
        if (v === null || v === undefined) {
          scratchF64[k] = 0;
          validity[k >>> 3]! &= ~(1 << (k & 7));
          nulls++;
        } else scratchF64[k] = v as number;
      }
      width = 8;
      break;
    case 'integer':
      for (let k = 0; k < n; k++) {
        const v = values[offset + k];
        if (v === null || v === undefined) {
          scratchI32[k] = 0;
          validity[k >>> 3]! &= ~(1 << (k & 7));
          nulls++;
        } else scratchI32[k] = v as number;
      }
      width = 4;
      break;
    case 'utinyint':
    case 'boolean':
      for (let k = 0; k < n; k++) {
        const v = values[offset + k];
        if (v === null || v === undefined) {
          scratchU8[k] = 0;
          validity[k >>> 3]! &= ~(1 << (k & 7));
          nulls++;
        } else scratchU8[k] = kind === 'boolean' ? (v === true ? 1 : 0) : (v as number);
      }
      width = 1;
      break;
  }
  duckdb.copy_data_to_vector(vector, 0, scratch, 0, n * width);
  return nulls;
}
