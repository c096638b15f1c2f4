import { cronJobKind } from './cronjob.js';
import { daemonSetKind } from './daemonset.js';
import { deploymentKind } from './deployment.js';
import { hpaKind } from './hpa.js';
import { jobKind } from './job.js';
import type { ClusterObject, KindSpec } from './kind.js';
import { namespaceKind } from './namespace.js';
import { nodeKind } from './node.js';
import { podKind } from './pod.js';
import { pvcKind } from './pvc.js';
import { resourceQuotaKind } from './resourcequota.js';
import { replicaSetKind } from './replicaset.js';
import { serviceKind } from './service.js';
import { statefulSetKind } from './statefulset.js';

/**
 * Every kind the cluster monitor lists and watches into the object graph (Events are watched
 * too, but delivered, not kept: ../event.ts, ../event-shipper.ts). Namespaces first: they carry the cluster uid and the
 * cost metadata every other object's attributes read. The RBAC ClusterRole in
 * deploy/kubernetes/base/rbac.yaml grants exactly these, and test/unit/deploy checks that.
 */
export const KINDS: readonly KindSpec<ClusterObject>[] = [
  namespaceKind,
  nodeKind,
  replicaSetKind,
  jobKind,
  podKind,
  deploymentKind,
  statefulSetKind,
  daemonSetKind,
  cronJobKind,
  hpaKind,
  resourceQuotaKind,
  pvcKind,
  serviceKind,
] as unknown as readonly KindSpec<ClusterObject>[];

export const KIND_BY_NAME: ReadonlyMap<string, KindSpec<ClusterObject>> = new Map(KINDS.map((k) => [k.kind, k]));
