import { arrayAt, type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** CronJobs (batch/v1): the jobs running now; the top of Job → CronJob. */

export interface CronJobObject extends ClusterObject {
  readonly active: number;
  readonly suspended: boolean;
}

export function convertCronJob(raw: unknown, ctx: ConvertContext): CronJobObject | undefined {
  const meta = clusterMeta(raw, 'CronJob', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  return { ...meta, active: arrayAt(objectAt(o, 'status'), 'active').length, suspended: objectAt(o, 'spec')['suspend'] === true };
}

export const cronJobKind: KindSpec<CronJobObject> = {
  kind: 'CronJob',
  apiVersion: 'batch/v1',
  resource: 'cronjobs',
  path: '/apis/batch/v1/cronjobs',
  convert: convertCronJob,
  metrics: [single(M.CRONJOB_ACTIVE, (c) => c.active)],
};
