import { ENTITY_TYPES } from '../store/entities.js';
import { AGGREGATIONS } from './metric-queries.js';

/**
 * The query API's OpenAPI 3.1 document, served at /api/v1/openapi.json. Tests validate it
 * against the OpenAPI schema and every answer they get against the response schemas here, so
 * the document cannot drift from what the endpoints return.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

const timeParam = (name: 'from' | 'to', def: string): Json => ({
  name,
  in: 'query',
  description: `${name === 'from' ? 'Start' : 'End'} of the range: RFC 3339, Unix seconds, \`now\` or \`now-15m\`. Default: ${def}.`,
  schema: { type: 'string' },
});

const P = {
  from: (def: string): Json => timeParam('from', def),
  to: timeParam('to', 'now'),
  entity: { name: 'entity', in: 'query', description: 'Entity id (repeatable, up to 100): the entity and everything below it.', schema: { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{16}$' } }, style: 'form', explode: true } as Json,
  workload: { name: 'workload', in: 'query', description: 'Workload name (in `namespace` when given).', schema: { type: 'string', maxLength: 256 } } as Json,
  namespace: { name: 'namespace', in: 'query', description: 'Namespace name.', schema: { type: 'string', maxLength: 256 } } as Json,
  limit: { name: 'limit', in: 'query', description: 'Most items on a page (default 100, at most gateway.queryMaxRows).', schema: { type: 'integer', minimum: 1 } } as Json,
  cursor: { name: 'cursor', in: 'query', description: 'The `nextCursor` of the previous page, unchanged (same filters).', schema: { type: 'string', maxLength: 200 } } as Json,
  severity: { name: 'severity', in: 'query', description: 'Minimum severity: 0–24 or TRACE, DEBUG, INFO, WARN, ERROR, FATAL.', schema: { type: 'string' } } as Json,
};

const errorResponses: Json = {
  '400': { description: 'A parameter is malformed, unknown or out of bounds (`parameter` names it).', content: { 'application/json': { schema: ref('Error') } } },
  '401': { description: 'No read token (send `Authorization: Api-Token <token>` or `Bearer <token>`).', content: { 'application/json': { schema: ref('Error') } } },
  '403': { description: 'The token is not a read token.', content: { 'application/json': { schema: ref('Error') } } },
  '503': {
    description: 'The query timed out (`timeout`), too many run (`busy`, with Retry-After), or the store is unavailable (`unavailable`, with `recovery`).',
    content: { 'application/json': { schema: ref('Error') } },
  },
};

function ok(description: string, data: Json): Json {
  return {
    description,
    content: { 'application/json': { schema: { type: 'object', required: ['status', 'data'], properties: { status: { const: 'success' }, data }, additionalProperties: false } } },
  };
}

function get(operationId: string, summary: string, parameters: Json[], data: Json, extra: Json = {}): Json {
  return {
    get: {
      operationId,
      summary,
      security: [{ apiToken: [] }, { bearer: [] }],
      parameters,
      responses: { '200': ok(summary, data), ...(errorResponses as object), ...(extra as object) },
    },
  };
}

const nullable = (schema: Json): Json => ({ oneOf: [schema, { type: 'null' }] });
const time: Json = { type: 'string', format: 'date-time' };
const latest: Json = nullable({ type: 'object', required: ['value', 'unit', 'time'], properties: { value: { type: 'number' }, unit: { type: 'string' }, time }, additionalProperties: false });

const schemas: Json = {
  Error: {
    type: 'object',
    required: ['status', 'errorType', 'error'],
    properties: {
      status: { const: 'error' },
      errorType: { enum: ['bad_data', 'not_found', 'unauthorized', 'forbidden', 'method_not_allowed', 'timeout', 'busy', 'unavailable', 'internal'] },
      error: { type: 'string' },
      parameter: { type: 'string' },
      recovery: { type: 'string' },
    },
    additionalProperties: false,
  },
  EntityRef: {
    type: 'object',
    required: ['id', 'type', 'name'],
    properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' }, type: { enum: [...ENTITY_TYPES] }, name: { type: 'string' } },
    additionalProperties: false,
  },
  Entity: {
    type: 'object',
    required: ['id', 'type', 'name', 'namespace', 'attributes', 'firstSeen', 'lastSeen', 'parents', 'metrics'],
    properties: {
      id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
      type: { enum: [...ENTITY_TYPES] },
      name: { type: 'string' },
      namespace: nullable({ type: 'string' }),
      attributes: { type: 'object' },
      firstSeen: time,
      lastSeen: time,
      parents: { type: 'array', items: ref('EntityRef') },
      metrics: {
        type: 'object',
        description: 'Latest values (last 5 minutes): CPU in cores (host: utilization 0–1), memory in bytes; workloads, namespaces and clusters sum their pods.',
        required: ['cpu', 'memory'],
        properties: { cpu: latest, memory: latest },
        additionalProperties: false,
      },
      bounds: {
        type: 'object',
        description: 'Requests and limits of the containers at or below (summed; from the pod spec, else the cgroup limits the agent read); a host: its allocatable CPU and memory as limits. Null where nothing reports one.',
        required: ['cpuRequest', 'cpuLimit', 'memoryRequest', 'memoryLimit'],
        properties: { cpuRequest: nullable({ type: 'number' }), cpuLimit: nullable({ type: 'number' }), memoryRequest: nullable({ type: 'number' }), memoryLimit: nullable({ type: 'number' }) },
        additionalProperties: false,
      },
      health: {
        type: 'object',
        description: 'The worst of the last hour at or below: WARN events (restarts, exits with a code, Kubernetes warnings), containers not ready or throttled in more than 25% of their latest CFS periods make a warning, ERROR events (OOM kills) critical.',
        required: ['level', 'reasons'],
        properties: {
          level: { enum: ['ok', 'warning', 'critical'] },
          reasons: {
            type: 'array',
            items: { type: 'object', required: ['reason', 'count'], properties: { reason: { type: 'string' }, count: { type: 'integer' } }, additionalProperties: false },
          },
        },
        additionalProperties: false,
      },
      children: { type: 'array', items: ref('EntityRef') },
      childrenTotal: { type: 'integer' },
      resources: { type: 'integer' },
    },
    additionalProperties: false,
  },
  Series: {
    type: 'object',
    required: ['metric', 'unit', 'type', 'entity', 't', 'v'],
    properties: {
      metric: { type: 'string' },
      unit: { type: 'string' },
      type: { type: 'string' },
      entity: nullable(ref('EntityRef')),
      t: { type: 'array', items: { type: 'integer' }, description: 'Step start times, Unix ms.' },
      v: { type: 'array', items: { type: 'number' } },
    },
    additionalProperties: false,
  },
  LogRecord: {
    type: 'object',
    required: ['time', 'timeUnixNano', 'severity', 'severityText', 'body', 'attributes', 'traceId', 'spanId', 'scope', 'entity'],
    properties: {
      time: { type: 'string' },
      timeUnixNano: { type: 'string', pattern: '^\\d+$' },
      severity: { type: 'integer' },
      severityText: { type: 'string' },
      body: { type: 'string' },
      attributes: { type: 'object' },
      traceId: nullable({ type: 'string' }),
      spanId: nullable({ type: 'string' }),
      scope: { type: 'string' },
      entity: nullable(ref('EntityRef')),
    },
    additionalProperties: false,
  },
  Event: {
    type: 'object',
    required: ['time', 'timeUnixNano', 'name', 'severity', 'body', 'attributes', 'entity'],
    properties: {
      time: { type: 'string' },
      timeUnixNano: { type: 'string', pattern: '^\\d+$' },
      name: { type: 'string' },
      severity: { type: 'integer' },
      body: { type: 'string' },
      attributes: { type: 'object' },
      entity: nullable(ref('EntityRef')),
    },
    additionalProperties: false,
  },
  TraceSummary: {
    type: 'object',
    required: ['traceId', 'start', 'durationMs', 'spans', 'errors', 'rootName', 'service'],
    properties: {
      traceId: { type: 'string' },
      start: { type: 'string' },
      durationMs: { type: 'number' },
      spans: { type: 'integer' },
      errors: { type: 'integer' },
      rootName: { type: 'string' },
      service: { type: 'string' },
    },
    additionalProperties: false,
  },
  Span: {
    type: 'object',
    required: ['spanId', 'parentSpanId', 'name', 'kind', 'start', 'durationMs', 'status', 'service', 'attributes', 'events', 'entity'],
    properties: {
      spanId: { type: 'string' },
      parentSpanId: nullable({ type: 'string' }),
      name: { type: 'string' },
      kind: { type: 'integer' },
      start: { type: 'string' },
      durationMs: { type: 'number' },
      status: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'integer' }, message: { type: 'string' } }, additionalProperties: false },
      service: { type: 'string' },
      attributes: { type: 'object' },
      events: { type: 'array' },
      entity: nullable(ref('EntityRef')),
    },
    additionalProperties: false,
  },
};

const entityRef = ref('EntityRef');
const metricExcerpt: Json = {
  type: 'object',
  required: ['metric', 'unit', 't', 'v'],
  properties: {
    metric: { type: 'string' },
    unit: { type: 'string' },
    t: { type: 'array', items: { type: 'integer' }, description: 'Step start times, Unix ms.' },
    v: { type: 'array', items: { type: 'number' } },
    median: { type: 'number', description: "The baseline's median (baseline anomalies)." },
    threshold: { type: 'number', description: 'What a step had to exceed.' },
  },
  additionalProperties: false,
};
const signalKinds = ['crash_loop', 'oom_kill', 'nonzero_exit', 'image_pull', 'unschedulable', 'node_not_ready', 'node_pressure', 'node_reboot', 'filesystem_full', 'cpu_throttling', 'metric_anomaly', 'error_logs', 'rollout'];
/** Problems (src/gateway/problems/): what the explorer's Problems view reads. */
const problemEvidence: Json = {
  type: 'object',
  required: ['type', 'signal', 'entity', 'time', 'summary'],
  properties: {
    type: { enum: ['event', 'metric', 'log'] },
    signal: { enum: signalKinds },
    entity: nullable(entityRef),
    time: { type: 'string', format: 'date-time' },
    summary: { type: 'string' },
    event: { type: 'object', required: ['name', 'body', 'attributes'], properties: { name: { type: 'string' }, body: { type: 'string' }, attributes: { type: 'object' } }, additionalProperties: false },
    metric: metricExcerpt,
    lines: {
      type: 'array',
      items: { type: 'object', required: ['time', 'severity', 'body'], properties: { time: { type: 'string' }, severity: { type: 'integer' }, body: { type: 'string' } }, additionalProperties: false },
    },
  },
  additionalProperties: false,
};
const problem: Json = {
  type: 'object',
  required: ['id', 'title', 'status', 'openedAt', 'closedAt', 'rootCause', 'affected', 'evidence', 'ranking'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
    title: { type: 'string' },
    status: { enum: ['open', 'closed'] },
    openedAt: { type: 'string', format: 'date-time' },
    closedAt: nullable({ type: 'string', format: 'date-time' }),
    rootCause: {
      type: 'object',
      required: ['id', 'type', 'name', 'why'],
      properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' }, type: { enum: [...ENTITY_TYPES] }, name: { type: 'string' }, why: { type: 'string' } },
      additionalProperties: false,
    },
    affected: { type: 'array', items: entityRef },
    evidence: { type: 'array', items: ref('ProblemEvidence') },
    ranking: {
      type: 'array',
      description: 'Candidate causes, best first (the root cause is the first).',
      items: {
        type: 'object',
        required: ['id', 'type', 'name', 'score', 'reasons'],
        properties: { id: { type: 'string' }, type: { enum: [...ENTITY_TYPES] }, name: { type: 'string' }, score: { type: 'number' }, reasons: { type: 'array', items: { type: 'string' } } },
        additionalProperties: false,
      },
    },
    history: {
      type: 'array',
      description: 'What happened to the problem, oldest first (GET /api/v1/problems/{id} only).',
      items: {
        type: 'object',
        required: ['time', 'event', 'detail'],
        properties: { time: { type: 'string', format: 'date-time' }, event: { enum: ['opened', 'signal_added', 'root_cause_changed', 'closed'] }, detail: { type: 'string' } },
        additionalProperties: false,
      },
    },
    signals: {
      type: 'array',
      description: 'The signals merged into the problem (GET /api/v1/problems/{id} only).',
      items: {
        type: 'object',
        required: ['key', 'kind', 'role', 'entity', 'title', 'onset', 'last', 'active'],
        properties: {
          key: { type: 'string' },
          kind: { enum: signalKinds },
          role: { enum: ['cause', 'symptom', 'change'] },
          entity: nullable(entityRef),
          title: { type: 'string' },
          onset: { type: 'string', format: 'date-time' },
          last: { type: 'string', format: 'date-time' },
          active: { type: 'boolean' },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
};

const page = (item: string): Json => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: { items: { type: 'array', items: ref(item) }, nextCursor: nullable({ type: 'string' }) },
  additionalProperties: false,
});

const notFound: Json = { '404': { description: 'No such entity or trace.', content: { 'application/json': { schema: ref('Error') } } } };

export const OPENAPI_DOCUMENT: Json = {
  openapi: '3.1.0',
  info: {
    title: 'Sextant gateway query API',
    version: '1',
    description:
      'What the gateway keeps in its embedded store. Every answer is one JSON envelope: `{"status":"success","data":…}` or `{"status":"error","errorType":…,"error":…,"parameter":…}`. Every query is bounded in range, rows and time (gateway.queryTimeout, gateway.queryMaxRows).',
  },
  servers: [{ url: '/' }],
  components: {
    securitySchemes: {
      apiToken: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`Api-Token <token>`, a token of gateway.readTokens (ingest tokens are not accepted).' },
      bearer: { type: 'http', scheme: 'bearer' },
    },
    schemas: { ...(schemas as Record<string, Json>), ProblemEvidence: problemEvidence, Problem: problem },
  },
  paths: {
    '/api/v1/entities': get(
      'listEntities',
      'Entities of one type with their latest CPU and memory',
      [
        { name: 'type', in: 'query', required: true, schema: { enum: [...ENTITY_TYPES] } },
        P.namespace,
        { name: 'parent', in: 'query', description: 'Only children of this entity.', schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } },
        { name: 'q', in: 'query', description: 'Name contains (case-insensitive), or key=value: a label (app=web matches k8s.pod.label.app) or attribute equal to the value.', schema: { type: 'string', maxLength: 256 } },
        P.limit,
        P.cursor,
      ],
      { type: 'object', required: ['total', 'items', 'nextCursor'], properties: { total: { type: 'integer' }, items: { type: 'array', items: ref('Entity') }, nextCursor: nullable({ type: 'string' }) }, additionalProperties: false },
      notFound,
    ),
    '/api/v1/entities/{id}': get('getEntity', 'One entity with its attributes, parents and children', [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } }], ref('Entity'), notFound),
    '/api/v1/metrics': get(
      'listMetrics',
      'Metric names (with an entity: those it reported in the last hour)',
      [P.entity, P.workload, P.namespace],
      {
        type: 'object',
        required: ['items'],
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'unit', 'type', 'temporality', 'monotonic'],
              properties: { name: { type: 'string' }, unit: { type: 'string' }, type: { type: 'string' }, temporality: nullable({ enum: ['delta', 'cumulative'] }), monotonic: { type: 'boolean' } },
              additionalProperties: false,
            },
          },
        },
        additionalProperties: false,
      },
      notFound,
    ),
    '/api/v1/series': get(
      'series',
      'Metric series over a range at a step',
      [
        { name: 'metric', in: 'query', required: true, description: 'Metric name (repeatable, up to 20).', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
        P.entity,
        P.workload,
        { name: 'type', in: 'query', description: 'Every entity of this type (with namespace or parent), up to 2,000.', schema: { enum: [...ENTITY_TYPES] } },
        P.namespace,
        { name: 'parent', in: 'query', schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } },
        { name: 'attr', in: 'query', description: 'Only series with this point attribute, key=value (repeatable).', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
        P.from('1 h before to'),
        P.to,
        { name: 'step', in: 'query', description: 'Step: 10s, 1m … or seconds; at most 11,000 steps over the range.', schema: { type: 'string' } },
        {
          name: 'agg',
          in: 'query',
          description: 'avg (gauges: mean; sums: increase), max, sum, rate (sums per second), p95 (with by=none).',
          schema: { enum: [...AGGREGATIONS] },
        },
        { name: 'by', in: 'query', description: 'entity: one series per entity; none: one across them.', schema: { enum: ['entity', 'none'] } },
      ],
      {
        type: 'object',
        required: ['from', 'to', 'step', 'agg', 'by', 'rollupsBefore', 'series'],
        properties: {
          from: { type: 'integer' },
          to: { type: 'integer' },
          step: { type: 'integer' },
          agg: { enum: [...AGGREGATIONS] },
          by: { enum: ['entity', 'none'] },
          rollupsBefore: { type: 'integer', description: 'Before this (Unix ms) values come from 1-minute rollups.' },
          series: { type: 'array', items: ref('Series') },
        },
        additionalProperties: false,
      },
      notFound,
    ),
    '/api/v1/logs': get(
      'logs',
      'Log records, newest first',
      [P.entity, P.workload, P.namespace, P.from('1 h before to'), P.to, P.severity, { name: 'q', in: 'query', description: 'Body contains (case-insensitive).', schema: { type: 'string', maxLength: 256 } }, P.limit, P.cursor],
      page('LogRecord'),
      notFound,
    ),
    '/api/v1/logs/stream': {
      get: {
        operationId: 'logStream',
        summary: 'Log records as they arrive, as server-sent events',
        description:
          'The filters of /api/v1/logs. Events: `ready` (data {"seq"}), then `logs` (data {"items": [LogRecord…]}, oldest first; id: the last sequence number, so a reconnect with Last-Event-ID resumes) as records arrive, a comment line every 15 s, and `bye` when the gateway stops. At most gateway.logStreams open at once (503 busy beyond).',
        security: [{ apiToken: [] }, { bearer: [] }],
        parameters: [P.entity, P.workload, P.namespace, P.severity, { name: 'q', in: 'query', description: 'Body contains (case-insensitive).', schema: { type: 'string', maxLength: 256 } }],
        responses: { '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...(errorResponses as object), ...(notFound as object) },
      },
    },
    '/api/v1/events': get(
      'events',
      'Events (container lifecycle, Kubernetes), newest first',
      [P.entity, P.workload, P.namespace, P.from('24 h before to'), P.to, { name: 'name', in: 'query', description: 'Event name (repeatable).', schema: { type: 'array', items: { type: 'string' } } }, P.severity, P.limit, P.cursor],
      page('Event'),
      notFound,
    ),
    '/api/v1/traces': get(
      'traces',
      'Traces that started in the range, newest first',
      [
        { name: 'service', in: 'query', schema: { type: 'string', maxLength: 256 } },
        { name: 'minDuration', in: 'query', schema: { type: 'string' } },
        { name: 'maxDuration', in: 'query', schema: { type: 'string' } },
        P.from('1 h before to'),
        P.to,
        P.limit,
      ],
      { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('TraceSummary') } }, additionalProperties: false },
    ),
    '/api/v1/traces/{traceId}': get(
      'trace',
      'The spans of one trace',
      [{ name: 'traceId', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } }],
      { type: 'object', required: ['traceId', 'spans'], properties: { traceId: { type: 'string' }, spans: { type: 'array', items: ref('Span') } }, additionalProperties: false },
      notFound,
    ),
    '/api/v1/problems': get(
      'listProblems',
      'Problems (detected anomalies with their root cause), newest first',
      [
        { name: 'status', in: 'query', description: 'open, closed or all (default all).', schema: { enum: ['open', 'closed', 'all'] } },
        { name: 'entity', in: 'query', description: 'Only problems touching this entity: affected, root cause, or above either (a pod finds its containers\' problems).', schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } },
        P.limit,
        P.cursor,
      ],
      { type: 'object', required: ['problems', 'nextCursor'], properties: { problems: { type: 'array', items: ref('Problem') }, nextCursor: nullable({ type: 'string' }) }, additionalProperties: false },
    ),
    '/api/v1/problems/{id}': get(
      'getProblem',
      'One problem with its history and signals',
      [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } }],
      ref('Problem'),
      { '404': { description: 'No such problem.', content: { 'application/json': { schema: ref('Error') } } } },
    ),
    '/api/v1/status': get(
      'status',
      "The store's state and size",
      [],
      {
        type: 'object',
        required: ['state', 'file', 'pendingBytes', 'rollupsBefore', 'entities', 'resources', 'metrics'],
        properties: {
          state: { enum: ['ready', 'unavailable', 'closed'] },
          file: { type: 'string' },
          pendingBytes: { type: 'integer', description: 'Accepted request bytes not yet committed (queries see them within ~100 ms).' },
          rollupsBefore: { type: 'integer' },
          entities: { type: 'integer' },
          resources: { type: 'integer' },
          metrics: { type: 'integer' },
        },
        additionalProperties: false,
      },
    ),
  },
};
