import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKubernetesMetadata, type KubernetesConfig, type KubernetesMetadata, type KubernetesTuning } from '../../../../src/enrich/k8s/kubernetes-metadata.js';
import type { Logger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { FakeApiServer, fixture, json, type SeenRequest, watchStream } from './fake-api-server.js';

/**
 * A recorded cluster: node-a's pods, four namespaces, the ReplicaSets and Jobs their pods name.
 * Watches are held open (no events) unless a test scripts them.
 */
export interface ClusterScript {
  /** The n-th pod watch (0-based). Default: held open. */
  podWatch?: (req: SeenRequest, res: ServerResponse, n: number) => void;
  namespaceWatch?: (req: SeenRequest, res: ServerResponse, n: number) => void;
  /** The n-th pod list request. Default: the recorded list. */
  podList?: (req: SeenRequest, res: ServerResponse, n: number) => void;
  namespaceList?: (req: SeenRequest, res: ServerResponse, n: number) => void;
  /** Owner lookups (ReplicaSets, Jobs). Default: the recorded objects. */
  owner?: (req: SeenRequest, res: ServerResponse) => void;
}

const OWNERS: Record<string, string> = {
  '/apis/apps/v1/namespaces/shop/replicasets/checkout-7d9f8b6c5d': 'replicaset-checkout.json',
  '/apis/apps/v1/namespaces/shop/replicasets/canary-5c8d7f9b4': 'replicaset-canary.json',
  '/apis/batch/v1/namespaces/shop/jobs/nightly-report-28930560': 'job-nightly-report.json',
  '/apis/batch/v1/namespaces/shop/jobs/migrate-db': 'job-migrate-db.json',
};

export function recordedOwner(req: SeenRequest, res: ServerResponse): void {
  const f = OWNERS[req.path];
  if (f === undefined) json(res, 404, fixture('status-404-replicaset.json'));
  else json(res, 200, fixture(f));
}

export function route(server: FakeApiServer, script: ClusterScript = {}): void {
  const n = { podWatch: 0, nsWatch: 0, podList: 0, nsList: 0 };
  server.handle = (req, res) => {
    const watch = req.query.get('watch') === '1';
    if (req.path === '/api/v1/pods') {
      if (watch) (script.podWatch ?? hold)(req, res, n.podWatch++);
      else (script.podList ?? ((_q, r) => json(r, 200, fixture('pod-list.json'))))(req, res, n.podList++);
      return;
    }
    if (req.path === '/api/v1/namespaces') {
      if (watch) (script.namespaceWatch ?? hold)(req, res, n.nsWatch++);
      else (script.namespaceList ?? ((_q, r) => json(r, 200, fixture('namespace-list.json'))))(req, res, n.nsList++);
      return;
    }
    (script.owner ?? recordedOwner)(req, res);
  };
}

/** A watch that stays open with nothing to say (the server closes it when the test ends). */
export function hold(_req: SeenRequest, res: ServerResponse): void {
  watchStream(res, '', false);
}

export const BASE_CONFIG: KubernetesConfig = {
  enabled: 'auto',
  apiServer: undefined,
  tokenFile: undefined,
  caFile: undefined,
  clusterName: 'prod-eu-1',
  podLabels: [],
  podAnnotations: [],
  namespaceLabels: [],
  namespaceAnnotations: [],
  costCenterFrom: [],
  productFrom: [],
};

export const FAST: Partial<KubernetesTuning> = {
  initialBackoffMs: 40,
  maxBackoffMs: 320,
  requestTimeoutMs: 3000,
  workloadRetryMs: 200,
  watchSeconds: 60,
};

export const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2V4dGFudDpzZXh0YW50In0.c2lnbmF0dXJl';

/** A service account directory (token, ca.crt) as a pod has it mounted. */
export function serviceAccountDir(ca: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-k8s-sa-'));
  writeFileSync(join(dir, 'token'), TOKEN);
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'namespace'), 'sextant');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Started {
  readonly k8s: KubernetesMetadata;
  readonly registry: Registry;
  stop(): Promise<void>;
}

/** The factory as the agent calls it in a pod: KUBERNETES_SERVICE_HOST/PORT and the mounted service account. */
export function startInCluster(server: FakeApiServer, logger: Logger, config: Partial<KubernetesConfig> = {}, tuning: Partial<KubernetesTuning> = {}): Started {
  const sa = serviceAccountDir(server.ca);
  const registry = new Registry();
  const k8s = createKubernetesMetadata(
    { ...BASE_CONFIG, ...config },
    {
      logger,
      registry,
      version: 'test',
      nodeName: 'node-a',
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port) },
      serviceAccountDir: sa.dir,
      tuning: { ...FAST, ...tuning },
    },
  );
  k8s.start();
  return {
    k8s,
    registry,
    async stop() {
      await k8s.stop();
      sa.cleanup();
    },
  };
}
