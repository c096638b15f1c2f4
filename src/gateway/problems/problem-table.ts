import type { QueryParam, Row } from '../store/index.js';
import type { Problem } from './problem.js';

/**
 * Problems in the store: the `problems` table (src/gateway/store/schema.ts), one row per
 * problem with its document as JSON and the columns the query API filters and orders by.
 * Written through the store's single writer, between ingest batches; read through the query
 * connections.
 */

export interface ProblemStoreAccess {
  query(sql: string, params: readonly QueryParam[], timeoutMs: number): Promise<Row[]>;
  /** Runs statements in one transaction on the store's writer. */
  execute(statements: readonly { readonly sql: string; readonly params: readonly QueryParam[] }[]): Promise<void>;
}

/** The columns a problem is found by: its id, status, times, root cause and every entity it touches. */
export function problemRow(p: Problem, entityIds: readonly string[]): QueryParam[] {
  return [p.id, p.causeKey, p.status, p.openedMs, p.closedMs, Date.now(), p.rootCause.id, ` ${[...new Set(entityIds)].join(' ')} `, JSON.stringify(p)];
}

export async function saveProblem(store: ProblemStoreAccess, p: Problem, entityIds: readonly string[]): Promise<void> {
  await store.execute([
    { sql: 'DELETE FROM problems WHERE problem_id = $1', params: [p.id] },
    {
      sql: 'INSERT INTO problems (problem_id, cause_key, status, opened_ms, closed_ms, updated_ms, root_entity, entities, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      params: problemRow(p, entityIds),
    },
  ]);
}

/** Deletes problems closed before `cutoffMs` (retention: they go with the data they were about). */
export async function deleteClosedBefore(store: ProblemStoreAccess, cutoffMs: number): Promise<void> {
  await store.execute([{ sql: "DELETE FROM problems WHERE status = 'closed' AND closed_ms < CAST($1 AS BIGINT)", params: [cutoffMs] }]);
}

function parse(row: Row): Problem | undefined {
  try {
    const p = JSON.parse(String(row['doc'])) as Problem;
    return typeof p.id === 'string' && (p.status === 'open' || p.status === 'closed') ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Open problems, and those closed since `closedSinceMs` (the engine's memory across restarts). */
export async function loadProblems(store: ProblemStoreAccess, closedSinceMs: number, timeoutMs: number): Promise<Problem[]> {
  const rows = await store.query("SELECT doc FROM problems WHERE status = 'open' OR closed_ms >= CAST($1 AS BIGINT) ORDER BY opened_ms", [closedSinceMs], timeoutMs);
  const out: Problem[] = [];
  for (const r of rows) {
    const p = parse(r);
    if (p !== undefined) out.push(p);
  }
  return out;
}

export interface ProblemPage {
  readonly problems: Problem[];
  readonly more: boolean;
}

/** A page of problems, newest first: by status and the entity they touch. */
export async function listProblems(
  store: Pick<ProblemStoreAccess, 'query'>,
  filter: { status: 'open' | 'closed' | 'all'; entity: string | undefined; offset: number; limit: number },
  timeoutMs: number,
): Promise<ProblemPage> {
  const params: QueryParam[] = [];
  const where: string[] = [];
  if (filter.status !== 'all') {
    params.push(filter.status);
    where.push(`status = $${params.length}`);
  }
  if (filter.entity !== undefined) {
    params.push(` ${filter.entity} `);
    where.push(`contains(entities, $${params.length})`);
  }
  const rows = await store.query(
    `SELECT doc FROM problems ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_ms DESC, problem_id LIMIT ${filter.limit + 1} OFFSET ${filter.offset}`,
    params,
    timeoutMs,
  );
  const problems: Problem[] = [];
  for (const r of rows.slice(0, filter.limit)) {
    const p = parse(r);
    if (p !== undefined) problems.push(p);
  }
  return { problems, more: rows.length > filter.limit };
}

export async function getProblem(store: Pick<ProblemStoreAccess, 'query'>, id: string, timeoutMs: number): Promise<Problem | undefined> {
  const rows = await store.query('SELECT doc FROM problems WHERE problem_id = $1', [id], timeoutMs);
  return rows[0] === undefined ? undefined : parse(rows[0]);
}
