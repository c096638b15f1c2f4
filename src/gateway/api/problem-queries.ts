import { getProblem as readProblem, listProblems as readProblems } from '../problems/problem-table.js';
import { problemJson } from '../problems/problem.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { ApiError, badParameter } from './envelope.js';
import type { Params } from './params.js';
import type { QueryContext } from './query-context.js';

/**
 * Problems (src/gateway/problems/): a page of them newest first, by status and by an entity
 * they touch (affected, root cause, or an entity below either), and one with its history.
 * Read from the store's `problems` table through the query connections.
 */

const PROBLEM_ID = /^[0-9a-f]{16}$/;
const DEFAULT_LIMIT = 100;

/** GET /api/v1/problems?status=open|closed|all&entity=<id>&limit=&cursor= */
export async function listProblems(ctx: QueryContext, p: Params): Promise<unknown> {
  const status = p.choice('status', ['open', 'closed', 'all'] as const, 'all');
  const entity = p.entityIds('entity', 1)[0];
  const limit = p.int('limit', 1, ctx.maxRows, Math.min(DEFAULT_LIMIT, ctx.maxRows));
  const fingerprint = queryFingerprint(ctx.endpoint, ctx.query);
  const offset = decodeCursor(p.one('cursor'), fingerprint)?.seq ?? 0;
  const page = await readProblems(ctx.store, { status, entity, offset, limit }, ctx.timeoutMs);
  return {
    problems: page.problems.map((x) => problemJson(x, false)),
    nextCursor: page.more ? encodeCursor({ time: '0', seq: offset + page.problems.length }, fingerprint) : null,
  };
}

/** GET /api/v1/problems/{id}: one problem with its history and signals. */
export async function getProblem(ctx: QueryContext, id: string, p: Params): Promise<unknown> {
  void p;
  if (!PROBLEM_ID.test(id)) throw badParameter('id', 'a problem id is 16 lowercase hex digits');
  const found = await readProblem(ctx.store, id, ctx.timeoutMs);
  if (found === undefined) throw new ApiError('not_found', `parameter "id": no problem ${id}`, { parameter: 'id' });
  return problemJson(found, true);
}
