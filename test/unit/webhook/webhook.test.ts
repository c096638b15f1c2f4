import { X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import fastJsonPatch from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1/Pod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiClient } from '../../../src/enrich/k8s/api-client.js';
import { patchCaBundle } from '../../../src/webhook/ca-bundle.js';
import { issueCertificates, serviceDnsNames } from '../../../src/webhook/certificates.js';
import { NamespaceAnnotations } from '../../../src/webhook/namespace-annotations.js';
import { type InjectionSettings, mutatePod, REQUIRE_FLAG } from '../../../src/webhook/pod-mutator.js';
import { startWebhookServer, type WebhookServer } from '../../../src/webhook/webhook-server.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';

const SETTINGS: InjectionSettings = { image: 'registry.example/sextant:0.1.0', agentPort: 4318, disabledInstrumentations: ['fs', 'dns', 'net'], resourceDetectors: 'env,host,os,process', bundleSizeLimit: '256Mi' };

type Obj = Record<string, any>;

/** A pod as a Deployment's ReplicaSet creates it: the shape the API server puts in the review. */
function pod(o: { annotations?: Record<string, string>; containers?: Obj[]; name?: string } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'checkout-7d9c6f5b8-',
      namespace: 'shop',
      labels: { app: 'checkout', 'pod-template-hash': '7d9c6f5b8' },
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9c6f5b8', uid: '0c5f7a64-9a0e-4c43-9a55-4b8c8f2f1f01', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      containers: o.containers ?? [{ name: 'app', image: 'node:24-slim', command: ['node', 'server.js'], ports: [{ containerPort: 8080 }], resources: {} }],
      restartPolicy: 'Always',
      serviceAccountName: 'default',
    },
    status: {},
  };
}

function review(object: Obj, namespace = 'shop', uid = '705ab4f5-6393-11e8-b7cc-42010a800002'): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'a1', groups: ['system:serviceaccounts'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** Applies a patch with a real RFC 6902 implementation and validates the pod against the API schema. */
function applied(original: Obj, patch: unknown[]): Obj {
  const out = fastJsonPatch.applyPatch(structuredClone(original), patch as fastJsonPatch.Operation[], true, false).newDocument as Obj;
  new Pod(out as never).validate();
  return out;
}

function env(c: Obj): Record<string, string> {
  return Object.fromEntries((c['env'] ?? []).map((e: Obj) => [e['name'], e['value'] ?? `<${Object.keys(e['valueFrom'] ?? {}).join()}:${Object.values(e['valueFrom'] ?? {}).map((v: any) => v.fieldPath).join()}>`]));
}

describe('mutatePod', () => {
  it('injects an annotated pod: init container, emptyDir with a size limit, NODE_OPTIONS, OTEL_* env, the mount, the marks', () => {
    const p = pod({ annotations: { 'sextant.dev/inject-nodejs': 'true' } });
    const r = mutatePod(p, undefined, SETTINGS);
    expect(r).toMatchObject({ candidate: true, injected: true });
    const out = applied(p, r.patch);
    expect(out['metadata'].annotations).toMatchObject({ 'sextant.dev/injected': 'true', 'sextant.dev/injection-reason': expect.stringContaining('injected into app') });
    expect(out['spec'].volumes).toEqual([{ name: 'sextant-instrumentation', emptyDir: { sizeLimit: '256Mi' } }]);
    const init = out['spec'].initContainers[0];
    expect(init).toMatchObject({ name: 'sextant-nodejs-instrumentation', image: SETTINGS.image, resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } } });
    expect(init.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const c = out['spec'].containers[0];
    expect(c.volumeMounts).toEqual([{ name: 'sextant-instrumentation', mountPath: '/sextant/instrumentation', readOnly: true }]);
    const e = env(c);
    expect(e).toMatchObject({
      NODE_OPTIONS: REQUIRE_FLAG,
      SEXTANT_NODE_IP: '<fieldRef:status.hostIP>',
      SEXTANT_POD_UID: '<fieldRef:metadata.uid>',
      OTEL_SERVICE_NAME: 'checkout',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://$(SEXTANT_NODE_IP):4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fs,dns,net',
      OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=$(SEXTANT_POD_NAME),k8s.pod.uid=$(SEXTANT_POD_UID),k8s.namespace.name=$(SEXTANT_POD_NAMESPACE),k8s.node.name=$(SEXTANT_NODE_NAME),k8s.container.name=app',
    });
    // Every $(VAR) refers to a variable defined before it, as the kubelet's expansion needs.
    const names = c.env.map((x: Obj) => x['name']);
    for (const [i, x] of c.env.entries()) for (const m of String(x['value'] ?? '').matchAll(/\$\(([A-Z_]+)\)/g)) expect(names.indexOf(m[1]), `${x['name']} uses ${m[1]}`).toBeLessThan(i);
  });

  it('leaves pods alone that did not ask, honours the namespace and the OpenTelemetry Operator\'s annotation, and an explicit false', () => {
    expect(mutatePod(pod(), undefined, SETTINGS)).toEqual({ candidate: false, injected: false, reason: 'not requested', patch: [] });
    const byNs = mutatePod(pod(), { 'sextant.dev/inject-nodejs': 'true' }, SETTINGS);
    expect(byNs.injected).toBe(true);
    expect(byNs.reason).toMatch(/namespace annotation sextant.dev\/inject-nodejs/);
    const otel = mutatePod(pod({ annotations: { 'instrumentation.opentelemetry.io/inject-nodejs': 'my-instrumentation' } }), undefined, SETTINGS);
    expect(otel.injected).toBe(true);
    const off = mutatePod(pod({ annotations: { 'sextant.dev/inject-nodejs': 'false' } }), { 'sextant.dev/inject-nodejs': 'true' }, SETTINGS);
    expect(off).toMatchObject({ candidate: true, injected: false });
    expect(applied(pod({ annotations: { 'sextant.dev/inject-nodejs': 'false' } }), off.patch)['metadata'].annotations['sextant.dev/injected']).toBe('false');
  });

  it('with several containers injects all, or only those named; keeps an existing NODE_OPTIONS; skips one set through valueFrom', () => {
    const containers = [
      { name: 'web', image: 'node', env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }, { name: 'OTEL_SERVICE_NAME', value: 'my-web' }] },
      { name: 'worker', image: 'node', env: [{ name: 'NODE_OPTIONS', valueFrom: { configMapKeyRef: { name: 'opts', key: 'node' } } }] },
      { name: 'sidecar', image: 'envoy' },
    ];
    const all = pod({ annotations: { 'sextant.dev/inject-nodejs': 'true' }, containers });
    const r = mutatePod(all, undefined, SETTINGS);
    const out = applied(all, r.patch);
    expect(r.injected).toBe(true);
    expect(r.reason).toMatch(/injected into web, sidecar; skipped container worker: NODE_OPTIONS is set through valueFrom/);
    const [web, worker] = out['spec'].containers;
    expect(env(web)['NODE_OPTIONS']).toBe(`--max-old-space-size=512 ${REQUIRE_FLAG}`);
    expect(env(web)['OTEL_SERVICE_NAME']).toBe('my-web');
    expect(worker.volumeMounts).toBeUndefined();
    expect(env(worker)['OTEL_EXPORTER_OTLP_ENDPOINT']).toBeUndefined();

    const named = pod({ annotations: { 'sextant.dev/inject-nodejs': 'true', 'instrumentation.opentelemetry.io/container-names': 'sidecar' }, containers });
    const o2 = applied(named, mutatePod(named, undefined, SETTINGS).patch);
    expect(o2['spec'].containers.map((c: Obj) => c['volumeMounts'] !== undefined)).toEqual([false, false, true]);

    const onlyValueFrom = pod({ annotations: { 'sextant.dev/inject-nodejs': 'true' }, containers: [containers[1]!] });
    const r3 = mutatePod(onlyValueFrom, undefined, SETTINGS);
    expect(r3).toMatchObject({ candidate: true, injected: false, reason: expect.stringMatching(/no container could be injected: container worker: NODE_OPTIONS is set through valueFrom/) });
    const o3 = applied(onlyValueFrom, r3.patch);
    expect(o3['spec'].initContainers).toBeUndefined();
    expect(o3['metadata'].annotations['sextant.dev/injected']).toBe('false');
  });

  it('is idempotent: an injected pod gets no patch, and injecting the result again changes nothing', () => {
    const p = pod({ annotations: { 'sextant.dev/inject-nodejs': 'true' } });
    const once = applied(p, mutatePod(p, undefined, SETTINGS).patch);
    expect(mutatePod(once, undefined, SETTINGS)).toEqual({ candidate: true, injected: true, reason: 'already injected', patch: [] });
  });
});

describe('the webhook over real TLS', () => {
  let server: WebhookServer;
  let api: Server;
  let apiUrl: string;
  const apiCalls: { method: string; url: string; contentType?: string; body: string }[] = [];
  const certs = issueCertificates(serviceDnsNames('sextant-webhook', 'sextant'));
  let configuration: Obj = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'sextant-webhook', resourceVersion: '100', uid: 'b7a0e2f4-0000-4000-8000-000000000001' },
    webhooks: [{ name: 'nodejs.inject.sextant.dev', clientConfig: { service: { name: 'sextant-webhook', namespace: 'sextant', path: '/mutate', port: 443 } }, admissionReviewVersions: ['v1'], sideEffects: 'None' }],
  };

  beforeAll(async () => {
    // A fake API server answering in the API's exact shapes (Namespace, MutatingWebhookConfiguration, Status).
    api = createHttpServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        apiCalls.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
        res.setHeader('content-type', 'application/json');
        if (req.url === '/api/v1/namespaces/team-ns') {
          res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-ns', uid: 'ns-1', resourceVersion: '7', annotations: { 'sextant.dev/inject-nodejs': 'true' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }));
        } else if (req.url?.startsWith('/api/v1/namespaces/')) {
          const name = req.url.split('/').at(-1);
          res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: 'ns-2', resourceVersion: '8' }, spec: {}, status: { phase: 'Active' } }));
        } else if (req.url === '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sextant-webhook') {
          if (req.method === 'PATCH') {
            const patch = JSON.parse(body) as Obj;
            configuration = structuredClone(configuration);
            for (const w of patch['webhooks']) Object.assign(configuration['webhooks'].find((x: Obj) => x['name'] === w.name).clientConfig, w.clientConfig);
          }
          res.end(JSON.stringify(configuration));
        } else {
          res.statusCode = 403;
          res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'forbidden', reason: 'Forbidden', code: 403 }));
        }
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const client = new KubeApiClient({ server: apiUrl, requestTimeoutMs: 5_000, maxResponseBytes: 1 << 20, userAgent: 'test' });
    server = await startWebhookServer(
      { listen: { host: '127.0.0.1', port: 0 }, certPem: certs.certPem, keyPem: certs.keyPem, maxRequestBytes: 256 * 1024, ownNamespace: 'sextant', settings: SETTINGS },
      { logger: silentLogger(), registry: new Registry(), namespaces: new NamespaceAnnotations(client, 30_000) },
    );
  });
  afterAll(async () => {
    await server?.close();
    await new Promise((r) => api?.close(r));
  });

  function post(body: string | Buffer, path = '/mutate'): Promise<{ status: number; json: Obj }> {
    const port = new URL(server.url).port;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, path, method: 'POST', servername: 'sextant-webhook.sextant.svc', ca: certs.caPem, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') as Obj }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('presents a certificate for the Service\'s names signed by its own CA', () => {
    const leaf = new X509Certificate(certs.certPem);
    expect(leaf.checkIssued(new X509Certificate(certs.caPem))).toBe(true);
    expect(leaf.subjectAltName).toContain('DNS:sextant-webhook.sextant.svc');
  });

  it('answers an annotated pod with a JSON Patch that yields a valid pod', async () => {
    const p = pod({ annotations: { 'sextant.dev/inject-nodejs': 'true' } });
    const r = await post(JSON.stringify(review(p)));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' } });
    const out = applied(p, JSON.parse(Buffer.from(r.json['response'].patch, 'base64').toString()) as unknown[]);
    expect(out['spec'].initContainers[0].name).toBe('sextant-nodejs-instrumentation');
  });

  it('reads the namespace annotation from the API; no patch for pods that did not ask, nor in kube-system or its own namespace', async () => {
    const byNs = await post(JSON.stringify(review(pod(), 'team-ns')));
    expect(byNs.json['response'].patchType).toBe('JSONPatch');
    const plain = await post(JSON.stringify(review(pod(), 'other-ns')));
    expect(plain.json['response']).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    for (const ns of ['kube-system', 'sextant']) {
      const r = await post(JSON.stringify(review(pod({ annotations: { 'sextant.dev/inject-nodejs': 'true' } }), ns)));
      expect(r.json['response'], ns).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    }
    expect(apiCalls.filter((c) => c.url.startsWith('/api/v1/namespaces/')).map((c) => c.url).sort()).toEqual(['/api/v1/namespaces/other-ns', '/api/v1/namespaces/team-ns']);
  });

  it('400 for a malformed review, 413 for an oversized one, 404 elsewhere', async () => {
    expect((await post('{not json')).status).toBe(400);
    expect((await post(JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }))).status).toBe(400);
    const noKind = review(pod());
    noKind['request'].kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    expect((await post(JSON.stringify(noKind))).status).toBe(400);
    const huge = review(pod({ annotations: { big: 'x'.repeat(300 * 1024) } }));
    expect((await post(JSON.stringify(huge))).status).toBe(413);
    expect((await post('{}', '/validate')).status).toBe(404);
  });

  it('patches the generated CA into exactly its own MutatingWebhookConfiguration', async () => {
    const client = new KubeApiClient({ server: apiUrl, requestTimeoutMs: 5_000, maxResponseBytes: 1 << 20, userAgent: 'test' });
    expect(await patchCaBundle(client, 'sextant-webhook', certs.caPem)).toBe(1);
    await client.close();
    const patch = apiCalls.find((c) => c.method === 'PATCH')!;
    expect(patch.url).toBe('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sextant-webhook');
    expect(patch.contentType).toBe('application/strategic-merge-patch+json');
    expect(JSON.parse(patch.body)).toEqual({ webhooks: [{ name: 'nodejs.inject.sextant.dev', clientConfig: { caBundle: Buffer.from(certs.caPem).toString('base64') } }] });
    expect(Buffer.from(configuration['webhooks'][0].clientConfig.caBundle, 'base64').toString()).toBe(certs.caPem);
    expect(configuration['webhooks'][0].clientConfig.service.path).toBe('/mutate');
  });
});
