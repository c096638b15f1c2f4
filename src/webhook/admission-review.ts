import type { JsonPatchOp } from './pod-mutator.js';

/**
 * AdmissionReview `admission.k8s.io/v1` as the API server sends it to a mutating webhook, and the
 * answer it expects: the same apiVersion and kind, `response.uid` = `request.uid`, `allowed`,
 * and a base64 JSON Patch with `patchType: JSONPatch` when there is something to change.
 */

type Obj = Record<string, unknown>;

export class ReviewError extends Error {}

export interface PodReview {
  readonly uid: string;
  /** The namespace the pod is created in (the object may not carry it yet). */
  readonly namespace: string;
  readonly operation: string;
  readonly pod: Obj;
  readonly dryRun: boolean;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The request of a review body, or ReviewError (→ 400) naming what is missing. */
export function parseReview(body: unknown): PodReview {
  if (!isObj(body)) throw new ReviewError('the body is not a JSON object');
  if (body['apiVersion'] !== 'admission.k8s.io/v1' || body['kind'] !== 'AdmissionReview') {
    throw new ReviewError('expected apiVersion admission.k8s.io/v1, kind AdmissionReview');
  }
  const req = body['request'];
  if (!isObj(req)) throw new ReviewError('no request');
  const uid = req['uid'];
  if (typeof uid !== 'string' || uid.length === 0 || uid.length > 128) throw new ReviewError('request.uid is missing');
  const kind = req['kind'];
  if (!isObj(kind) || kind['kind'] !== 'Pod' || (kind['group'] ?? '') !== '' || kind['version'] !== 'v1') {
    throw new ReviewError('request.kind is not core/v1 Pod (the webhook mutates pods only)');
  }
  const pod = req['object'];
  if (!isObj(pod)) throw new ReviewError('request.object is missing');
  const meta = pod['metadata'];
  const namespace = typeof req['namespace'] === 'string' ? req['namespace'] : isObj(meta) && typeof meta['namespace'] === 'string' ? meta['namespace'] : '';
  return { uid, namespace, operation: typeof req['operation'] === 'string' ? req['operation'] : '', pod, dryRun: req['dryRun'] === true };
}

/** The answer: always allowed (the webhook never blocks a pod), with the patch when there is one. */
export function reviewResponse(uid: string, patch: readonly JsonPatchOp[], warnings: readonly string[] = []): Obj {
  const response: Obj = { uid, allowed: true };
  if (patch.length > 0) {
    response['patchType'] = 'JSONPatch';
    response['patch'] = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  if (warnings.length > 0) response['warnings'] = warnings.map((w) => (w.length > 256 ? `${w.slice(0, 255)}…` : w));
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
