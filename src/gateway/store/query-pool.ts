import { DOUBLE, LIST, listValue, VARCHAR, type DuckDBConnection, type DuckDBInstance, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { QueryBusyError, QueryTimeoutError } from './store-errors.js';

/** A statement parameter: a scalar, or a list (bound as a DuckDB LIST, for `IN (SELECT unnest($n))`). */
export type QueryParam = string | number | bigint | boolean | null | readonly (string | number | bigint | null)[];

/** A value of a result row: BIGINT as a number when exact, else as a decimal string. */
export type RowValue = string | number | boolean | null | RowValue[] | { [key: string]: RowValue };
export type Row = Record<string, RowValue>;

function jsonValue(v: unknown): RowValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === 'object') {
    const out: { [key: string]: RowValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = jsonValue(x);
    return out;
  }
  return String(v);
}

interface Waiter {
  resolve(c: DuckDBConnection): void;
  reject(err: unknown): void;
}

/**
 * The query API's connections, apart from the writer's: a query never waits for a commit and
 * a commit never waits for a query (DuckDB's MVCC gives each query a snapshot). A few
 * connections, a short bounded wait for one, and a deadline on each query: past it the query
 * is interrupted, so a slow question costs its caller, not the gateway.
 */
export class QueryPool {
  readonly #idle: DuckDBConnection[] = [];
  readonly #all: DuckDBConnection[] = [];
  readonly #waiting: Waiter[] = [];
  readonly #maxWaiting: number;
  #closed = false;

  private constructor(maxWaiting: number) {
    this.#maxWaiting = maxWaiting;
  }

  static async open(instance: DuckDBInstance, size: number, maxWaiting: number): Promise<QueryPool> {
    const pool = new QueryPool(maxWaiting);
    for (let i = 0; i < size; i++) {
      const c = await instance.connect();
      pool.#all.push(c);
      pool.#idle.push(c);
    }
    return pool;
  }

  /**
   * Runs one statement with positional parameters ($1, $2 …) and returns its rows as JSON-ready
   * objects. Client text only ever arrives here as a parameter value.
   */
  async rows(sql: string, params: readonly QueryParam[], timeoutMs: number): Promise<Row[]> {
    const values: DuckDBValue[] = params.map((p) => (Array.isArray(p) ? listValue(p as DuckDBValue[]) : (p as DuckDBValue)));
    const types = params.map(listType);
    const deadline = Date.now() + timeoutMs;
    const conn = await this.#acquire(timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      const left = deadline - Date.now();
      if (left <= 0) throw new QueryTimeoutError(timeoutMs);
      timer = setTimeout(() => {
        timedOut = true;
        conn.interrupt();
      }, left);
      // An undefined entry leaves that value's type to the API (its types are typed without holes).
      const reader = await conn.runAndReadAll(sql, values, types as DuckDBType[]);
      const out: Row[] = [];
      for (const r of reader.getRowObjectsJS()) {
        const row: Row = {};
        for (const k in r) row[k] = jsonValue((r as Record<string, unknown>)[k]);
        out.push(row);
      }
      return out;
    } catch (err) {
      if (timedOut) throw new QueryTimeoutError(timeoutMs);
      throw err;
    } finally {
      clearTimeout(timer);
      this.#release(conn);
    }
  }

  #acquire(timeoutMs: number): Promise<DuckDBConnection> {
    if (this.#closed) return Promise.reject(new Error('store is closing'));
    const c = this.#idle.pop();
    if (c !== undefined) return Promise.resolve(c);
    if (this.#waiting.length >= this.#maxWaiting) return Promise.reject(new QueryBusyError());
    return new Promise<DuckDBConnection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (conn) => {
          clearTimeout(timer);
          resolve(conn);
        },
        reject,
      };
      const timer = setTimeout(() => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(new QueryTimeoutError(timeoutMs));
      }, timeoutMs);
      this.#waiting.push(waiter);
    });
  }

  #release(c: DuckDBConnection): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next.resolve(c);
    else this.#idle.push(c);
  }

  /** Interrupts what runs, refuses what waits, closes the connections. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new Error('store is closing'));
    for (const c of this.#all) {
      try {
        c.interrupt();
        c.closeSync();
      } catch {
        // Closed already.
      }
    }
  }
}

/**
 * The type of a list parameter that starts with NULL, from its first other value: DuckDB's node
 * API types a list by its first value, and a list starting with NULL is bound as NULLs throughout.
 */
function listType(p: QueryParam): DuckDBType | undefined {
  if (!Array.isArray(p) || (p[0] !== null && p[0] !== undefined)) return undefined;
  const first = (p as unknown[]).find((v) => v !== null && v !== undefined);
  return typeof first === 'string' ? LIST(VARCHAR) : typeof first === 'number' ? LIST(DOUBLE) : undefined;
}
