import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeApiServer, json, selfSignedCert } from '../unit/enrich/k8s/fake-api-server.js';
import { freePort } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';

/**
 * `sextant webhook` as a process: no certificate given, so it makes a CA and a serving
 * certificate, patches the CA into its MutatingWebhookConfiguration through the (fake) API
 * server, turns ready, and answers an AdmissionReview over TLS that verifies against exactly
 * that CA. SIGTERM stops it with 0.
 */
describe('sextant webhook', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'sx-webhook-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('generates its CA, patches caBundle, serves /mutate with it and stops cleanly', async () => {
    const api = new FakeApiServer(selfSignedCert());
    let caBundle: string | undefined;
    let patches = 0;
    const configuration = () => ({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'sextant-webhook', uid: 'c1', resourceVersion: String(10 + patches) },
      webhooks: [{ name: 'nodejs.inject.sextant.dev', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { service: { name: 'sextant-webhook', namespace: 'sextant', path: '/mutate', port: 443 }, ...(caBundle ? { caBundle } : {}) } }],
    });
    api.handle = (req, res) => {
      if (req.path === '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sextant-webhook') return json(res, 200, configuration());
      json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
    };
    // The PATCH's body, as the fake server recorded it.
    const origHandle = api.handle;
    await api.listen();
    api.handle = (req, res) => {
      if (req.path.endsWith('/sextant-webhook') && req.method === 'PATCH') {
        patches++;
        caBundle = (JSON.parse(req.body) as { webhooks: { clientConfig: { caBundle: string } }[] }).webhooks[0]!.clientConfig.caBundle;
        json(res, 200, configuration());
        return;
      }
      origHandle(req, res);
    };
    writeFileSync(path.join(work, 'ca.crt'), api.ca);
    writeFileSync(path.join(work, 'token'), 'webhook-token');
    const port = await freePort();
    const self = await freePort();
    const webhook = new SextantProcess(['webhook'], {
      cwd: work,
      env: {
        SEXTANT_WEBHOOK_LISTEN: `127.0.0.1:${port}`,
        SEXTANT_LISTEN: `127.0.0.1:${self}`,
        SEXTANT_KUBERNETES_API_SERVER: api.url,
        SEXTANT_KUBERNETES_CA_FILE: path.join(work, 'ca.crt'),
        SEXTANT_KUBERNETES_TOKEN_FILE: path.join(work, 'token'),
        SEXTANT_WEBHOOK_IMAGE: 'registry.example/sextant:0.1.0',
      },
    });
    try {
      await webhook.waitForLog('caBundle patched with the generated CA', 20_000);
      expect(patches).toBe(1);
      const ca = Buffer.from(caBundle!, 'base64').toString();
      expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect((await fetch(`http://127.0.0.1:${self}/readyz`)).status).toBe(200);
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'e2e-1',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: 'shop',
          operation: 'CREATE',
          object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop', annotations: { 'sextant.dev/inject-nodejs': 'true' } }, spec: { containers: [{ name: 'web', image: 'node:24' }] } },
        },
      };
      const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, servername: 'sextant-webhook.sextant.svc', headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(JSON.stringify(review));
      });
      expect(answer.status).toBe(200);
      expect(answer.body.response).toMatchObject({ uid: 'e2e-1', allowed: true, patchType: 'JSONPatch' });
      const patch = JSON.parse(Buffer.from(answer.body.response.patch, 'base64').toString()) as { path: string; value: any }[];
      expect(patch.find((p) => p.path === '/spec/initContainers')?.value[0].image).toBe('registry.example/sextant:0.1.0');
      webhook.kill('SIGTERM');
      expect((await webhook.exited).code).toBe(0);
    } finally {
      webhook.kill('SIGKILL');
      await api.close();
    }
  }, 60_000);
});
