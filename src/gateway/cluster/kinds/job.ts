import { countAt, type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** Jobs (batch/v1): active, succeeded and failed pods, and what the spec asks for. */

export interface JobObject extends ClusterObject {
  readonly active: number;
  readonly succeeded: number;
  readonly failed: number;
  /** spec.completions; undefined for a work-queue job (no fixed count). */
  readonly completions: number | undefined;
  readonly parallelism: number;
}

export function convertJob(raw: unknown, ctx: ConvertContext): JobObject | undefined {
  const meta = clusterMeta(raw, 'Job', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const spec = objectAt(o, 'spec');
  const status = objectAt(o, 'status');
  return {
    ...meta,
    active: countAt(status, 'active') ?? 0,
    succeeded: countAt(status, 'succeeded') ?? 0,
    failed: countAt(status, 'failed') ?? 0,
    completions: countAt(spec, 'completions'),
    parallelism: countAt(spec, 'parallelism') ?? 1,
  };
}

export const jobKind: KindSpec<JobObject> = {
  kind: 'Job',
  apiVersion: 'batch/v1',
  resource: 'jobs',
  path: '/apis/batch/v1/jobs',
  convert: convertJob,
  metrics: [
    single(M.JOB_ACTIVE, (j) => j.active),
    single(M.JOB_FAILED, (j) => j.failed),
    single(M.JOB_SUCCESSFUL, (j) => j.succeeded),
    single(M.JOB_DESIRED_SUCCESSFUL, (j) => j.completions),
    single(M.JOB_MAX_PARALLEL, (j) => j.parallelism),
  ],
};
