import { expect } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { request } from 'undici';
import { OPENAPI_DOCUMENT } from '../../../../src/gateway/api/openapi.js';

/**
 * Calls to the query API, each answer checked against the OpenAPI document's schema for that
 * path and status: the document is tested by every call the tests make, not only by a linter.
 */

type Doc = { paths: Record<string, { get: { responses: Record<string, { content?: { 'application/json': { schema: unknown } } }> } }>; components: { schemas: Record<string, unknown> } };
const doc = OPENAPI_DOCUMENT as unknown as Doc;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');

const validators = new Map<string, ReturnType<typeof ajv.compile>>();

function validatorFor(pathPattern: string, status: number): ReturnType<typeof ajv.compile> {
  const key = `${pathPattern} ${status}`;
  let v = validators.get(key);
  if (v === undefined) {
    const responses = doc.paths[pathPattern]?.get.responses;
    if (responses === undefined) throw new Error(`no path ${pathPattern} in the OpenAPI document`);
    const r = responses[String(status)];
    if (r === undefined) throw new Error(`${pathPattern}: status ${status} is not documented`);
    const schema = JSON.parse(JSON.stringify(r.content!['application/json'].schema).replaceAll('"#/components/', '"doc#/components/')) as object;
    v = ajv.compile(schema);
    validators.set(key, v);
  }
  return v;
}

/** The documented path pattern a request path matches (entities/{id}, traces/{traceId}). */
function pattern(p: string): string {
  if (/^\/api\/v1\/entities\/[^/]+$/.test(p)) return '/api/v1/entities/{id}';
  if (/^\/api\/v1\/traces\/[^/]+$/.test(p)) return '/api/v1/traces/{traceId}';
  if (/^\/api\/v1\/problems\/[^/]+$/.test(p)) return '/api/v1/problems/{id}';
  return p;
}

export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** GET `path` (with its query), checked against the document when the path and status are in it. */
export async function apiGet(base: string, pathAndQuery: string, token: string | undefined, method: 'GET' | 'POST' = 'GET'): Promise<ApiAnswer> {
  const res = await request(`${base}${pathAndQuery}`, { method, headers: token === undefined ? {} : { authorization: token } });
  const text = await res.body.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const p = pattern(pathAndQuery.split('?')[0]!);
  if (doc.paths[p] !== undefined && res.statusCode !== 405) {
    const v = validatorFor(p, res.statusCode);
    if (!v(body)) throw new Error(`${pathAndQuery} → ${res.statusCode}: answer does not match the OpenAPI schema: ${ajv.errorsText(v.errors)}\n${text.slice(0, 500)}`);
  } else if (res.statusCode >= 400) {
    const v = ajv.compile({ $ref: 'doc#/components/schemas/Error' });
    if (!v(body)) throw new Error(`${pathAndQuery} → ${res.statusCode}: not an error envelope: ${text.slice(0, 300)}`);
  }
  return { status: res.statusCode, headers: res.headers, body };
}

/** `data` of a successful answer (fails the test otherwise, showing the error). */
export async function apiData<T = Record<string, unknown>>(base: string, pathAndQuery: string, token: string | undefined): Promise<T> {
  const a = await apiGet(base, pathAndQuery, token);
  if (a.status !== 200) throw new Error(`${pathAndQuery} → ${a.status}: ${JSON.stringify(a.body)}`);
  expect(a.body['status']).toBe('success');
  return a.body['data'] as T;
}
