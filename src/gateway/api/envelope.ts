import type { ServerResponse } from 'node:http';

/**
 * One JSON envelope for every answer, after Prometheus's HTTP API:
 * `{"status":"success","data":…}` or
 * `{"status":"error","errorType":"bad_data","error":"…","parameter":"from"}`.
 */

export type ErrorType = 'bad_data' | 'not_found' | 'unauthorized' | 'forbidden' | 'method_not_allowed' | 'timeout' | 'busy' | 'unavailable' | 'internal';

const STATUS: Readonly<Record<ErrorType, number>> = {
  bad_data: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  timeout: 503,
  busy: 503,
  unavailable: 503,
  internal: 500,
};

/** An answer other than success; `parameter` names the query parameter at fault. */
export class ApiError extends Error {
  readonly errorType: ErrorType;
  readonly parameter: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly extra: Readonly<Record<string, string>> | undefined;
  constructor(errorType: ErrorType, message: string, options: { parameter?: string; retryAfterSeconds?: number; extra?: Record<string, string> } = {}) {
    super(message);
    this.errorType = errorType;
    this.parameter = options.parameter;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.extra = options.extra;
  }

  get status(): number {
    return STATUS[this.errorType];
  }
}

/** A bad query parameter: 400, naming it. */
export function badParameter(parameter: string, message: string): ApiError {
  return new ApiError('bad_data', `parameter "${parameter}": ${message}`, { parameter });
}

function send(res: ServerResponse, status: number, body: string): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': buf.length,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(buf);
}

export function sendData(res: ServerResponse, data: unknown): void {
  send(res, 200, JSON.stringify({ status: 'success', data }));
}

export function sendError(res: ServerResponse, err: ApiError): void {
  if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  if (err.errorType === 'unauthorized') res.setHeader('WWW-Authenticate', 'Api-Token');
  if (err.errorType === 'method_not_allowed') res.setHeader('Allow', 'GET');
  const body: Record<string, unknown> = { status: 'error', errorType: err.errorType, error: err.message };
  if (err.parameter !== undefined) body['parameter'] = err.parameter;
  if (err.extra !== undefined) Object.assign(body, err.extra);
  send(res, err.status, JSON.stringify(body));
}
