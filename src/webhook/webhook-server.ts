import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatListen, type ListenAddress } from '../config-kinds/values.js';
import { ConfigError } from '../errors.js';
import { BodyError, readBody } from '../io/request-body.js';
import type { Logger } from '../self/logger.js';
import type { BoundCounter, Registry } from '../self/registry.js';
import { parseReview, ReviewError, reviewResponse } from './admission-review.js';
import type { NamespaceAnnotations } from './namespace-annotations.js';
import { type InjectionSettings, mutatePod, requested } from './pod-mutator.js';

export interface WebhookServerOptions {
  readonly listen: ListenAddress;
  readonly certPem: string;
  readonly keyPem: string;
  readonly maxRequestBytes: number;
  /** The webhook's own namespace: never mutated (nor kube-system). */
  readonly ownNamespace: string;
  readonly settings: InjectionSettings;
}

export interface WebhookServer {
  readonly url: string;
  /** A new certificate (a rotated Secret): connections from now on use it. */
  setCertificate(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

type Result = 'injected' | 'not_injected' | 'already_injected' | 'not_requested' | 'excluded_namespace' | 'bad_request' | 'too_large' | 'not_found';
const RESULTS: readonly Result[] = ['injected', 'not_injected', 'already_injected', 'not_requested', 'excluded_namespace', 'bad_request', 'too_large', 'not_found'];

/**
 * `POST /mutate` over TLS: an AdmissionReview in, an AdmissionReview out, always `allowed` —
 * the webhook adds instrumentation or nothing, it never refuses a pod (and the configuration's
 * failurePolicy Ignore admits the pod unchanged when the webhook is down). Malformed reviews get
 * 400 and oversized bodies 413, which the API server treats as a webhook failure: Ignore again.
 */
export async function startWebhookServer(o: WebhookServerOptions, deps: { logger: Logger; registry: Registry; namespaces: NamespaceAnnotations }): Promise<WebhookServer> {
  const counter = deps.registry.counter('sextant_webhook_reviews_total', 'AdmissionReviews answered, by result (injected, not_injected, already_injected, not_requested, excluded_namespace, bad_request, too_large, not_found).');
  const counts = new Map<Result, BoundCounter>(RESULTS.map((r) => [r, counter.bind({ result: r })]));
  const excluded = new Set(['kube-system', o.ownNamespace]);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/mutate' || req.method !== 'POST') {
      counts.get('not_found')!.inc();
      return send(res, 404, { message: 'POST /mutate' });
    }
    let body: Buffer;
    try {
      if (Number(req.headers['content-length'] ?? 0) > o.maxRequestBytes) throw new BodyError(413, 'too_large', `body exceeds ${o.maxRequestBytes} bytes`);
      body = (await readBody(req, false, { maxRequestBytes: o.maxRequestBytes, maxDecompressedBytes: o.maxRequestBytes })).body;
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      counts.get(err.status === 413 ? 'too_large' : 'bad_request')!.inc();
      res.setHeader('connection', 'close');
      return send(res, err.status, { message: err.message });
    }
    let review;
    try {
      review = parseReview(JSON.parse(body.toString('utf8')) as unknown);
    } catch (err) {
      counts.get('bad_request')!.inc();
      return send(res, 400, { message: err instanceof ReviewError ? err.message : 'the body is not JSON' });
    }
    if (excluded.has(review.namespace)) {
      counts.get('excluded_namespace')!.inc();
      return send(res, 200, reviewResponse(review.uid, []));
    }
    // The namespace is read only when the pod's own annotations do not decide.
    const nsAnnotations = requested({ pod: review.pod, namespaceAnnotations: undefined }).want === undefined ? await deps.namespaces.get(review.namespace) : undefined;
    const result = mutatePod(review.pod, nsAnnotations, o.settings);
    const outcome: Result = !result.candidate ? 'not_requested' : result.reason === 'already injected' ? 'already_injected' : result.injected ? 'injected' : 'not_injected';
    counts.get(outcome)!.inc();
    if (result.candidate && outcome !== 'already_injected') {
      deps.logger.info({ namespace: review.namespace, pod: podName(review.pod), injected: result.injected, reason: result.reason, dryRun: review.dryRun }, 'pod admission: Node.js instrumentation');
    }
    send(res, 200, reviewResponse(review.uid, result.patch, result.candidate && !result.injected && outcome === 'not_injected' ? [`sextant: ${result.reason}`] : []));
  };

  const server: Server = createServer({ cert: o.certPem, key: o.keyPem, minVersion: 'TLSv1.2', requestTimeout: 10_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.logger.warn({ err: (err as Error).message }, 'webhook request failed');
      if (!res.headersSent) send(res, 500, { message: 'internal error' });
      else res.destroy();
    });
  });
  // A client that is not TLS, or gives up mid-handshake: nothing to answer.
  server.on('tlsClientError', () => undefined);
  const url = await new Promise<string>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new ConfigError('webhook.listen', `cannot listen on ${formatListen(o.listen)}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve(`https://${formatListen({ host: a.address, port: a.port })}`);
    });
  });
  return {
    url,
    setCertificate: (cert, key) => server.setSecureContext({ cert, key }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function podName(pod: Record<string, unknown>): string {
  const meta = pod['metadata'] as { name?: unknown; generateName?: unknown } | undefined;
  return typeof meta?.name === 'string' && meta.name !== '' ? meta.name : typeof meta?.generateName === 'string' ? `${meta.generateName}*` : '';
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}
