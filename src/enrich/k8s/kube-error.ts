import { SextantError } from '../../errors.js';

/**
 * Why a Kubernetes API call failed, in the words the caller acts on:
 *   forbidden     403: RBAC denies the service account (retried slowly; no loop of log lines);
 *   unauthorized  401: the token was refused (expired or rotated: the token file is read again);
 *   gone          410: the resourceVersion is too old (re-list);
 *   not-found     404: the object (a ReplicaSet) is gone;
 *   conflict      409: a write lost a race (the object changed since it was read, or exists already);
 *   unavailable   no connection, a reset, or a 5xx/429 (retried with backoff);
 *   timeout       no answer before the deadline;
 *   too-large     a response over the size cap;
 *   protocol      an answer not in the API's shape (not JSON, wrong kind);
 *   failed        any other status;
 *   config        no usable API server, CA or token file.
 */
export type KubeErrorReason = 'forbidden' | 'unauthorized' | 'gone' | 'not-found' | 'conflict' | 'unavailable' | 'timeout' | 'too-large' | 'protocol' | 'failed' | 'config';

/** Longest piece of an API message kept in an error (a Status message is the server's text, not ours). */
const MAX_DETAIL = 240;

export class KubeApiError extends SextantError {
  readonly reason: KubeErrorReason;
  /** HTTP status; 0 when there was no answer. */
  readonly status: number;
  constructor(reason: KubeErrorReason, status: number, message: string, options?: { cause?: unknown }) {
    super('SEXTANT_ERR_KUBE_API', message.length > MAX_DETAIL ? `${message.slice(0, MAX_DETAIL)}…` : message, options);
    this.reason = reason;
    this.status = status;
  }
}

/** The reason for an HTTP status the API answered with. */
export function reasonForStatus(status: number): KubeErrorReason {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 410) return 'gone';
  if (status === 429 || status >= 500) return 'unavailable';
  return 'failed';
}
