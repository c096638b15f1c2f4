import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSection } from '../../../../src/gateway/cluster/config.js';
import { createClusterMonitor, LEASE_NAME, type ClusterMonitor, type ClusterTuning } from '../../../../src/gateway/cluster/cluster-monitor.js';
import type { ClusterOutput } from '../../../../src/gateway/cluster/output.js';
import { Registry } from '../../../../src/self/registry.js';
import { BASE_CONFIG, TOKEN } from '../../enrich/k8s/cluster.js';
import { captureLogger, FakeApiServer, selfSignedCert } from '../../enrich/k8s/fake-api-server.js';
import { until } from '../../../helpers/wait.js';
import { OtlpCapture } from './otlp-capture.js';
import { StandInCluster } from './stand-in-cluster.js';

/**
 * The cluster monitor in this process against the stand-in API server, as a gateway in a pod
 * runs it (KUBERNETES_SERVICE_HOST/PORT, a mounted service account with its namespace), with
 * short timings, its output captured and decoded.
 */

export const LEASE_NS = 'sextant';

export const TLS = selfSignedCert();

export const FAST_TUNING: Partial<ClusterTuning> = { initialBackoffMs: 40, maxBackoffMs: 400, requestTimeoutMs: 3000, watchSeconds: 60 };

export interface Api {
  readonly server: FakeApiServer;
  readonly cluster: StandInCluster;
  readonly saDir: string;
  close(): Promise<void>;
}

export async function startApi(): Promise<Api> {
  const server = new FakeApiServer(TLS);
  await server.listen();
  const cluster = new StandInCluster(server);
  const saDir = mkdtempSync(join(tmpdir(), 'sextant-cluster-sa-'));
  writeFileSync(join(saDir, 'token'), TOKEN);
  writeFileSync(join(saDir, 'ca.crt'), server.ca);
  writeFileSync(join(saDir, 'namespace'), LEASE_NS);
  return {
    server,
    cluster,
    saDir,
    async close() {
      await server.close();
      rmSync(saDir, { recursive: true, force: true });
    },
  };
}

export interface Started {
  readonly monitor: ClusterMonitor;
  readonly registry: Registry;
  readonly capture: OtlpCapture;
  readonly log: ReturnType<typeof captureLogger>;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export const SECTION: ClusterSection = { enabled: 'true', interval: 60_000, leaseNamespace: '', leaseDuration: 3000 };

export function startMonitor(
  api: Api,
  o: { section?: Partial<ClusterSection>; tuning?: Partial<ClusterTuning>; output?: ClusterOutput; identity?: string; dataDir?: string; capture?: OtlpCapture } = {},
): Started {
  const registry = new Registry();
  const capture = o.capture ?? new OtlpCapture();
  const log = captureLogger();
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'sextant-cluster-data-'));
  const monitor = createClusterMonitor(
    { cluster: { ...SECTION, ...o.section }, kubernetes: { ...BASE_CONFIG, clusterName: 'prod-eu-1' } },
    {
      logger: log.logger,
      registry,
      version: 'test',
      output: o.output ?? capture.output,
      dataDir,
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.server.port) },
      serviceAccountDir: api.saDir,
      tuning: { ...FAST_TUNING, ...o.tuning },
      ...(o.identity !== undefined ? { identity: o.identity } : {}),
    },
  );
  monitor.start();
  return {
    monitor,
    registry,
    capture,
    log,
    dataDir,
    async stop() {
      await monitor.stop();
      if (o.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function leaseOf(api: Api): Record<string, any> | undefined {
  return api.cluster.lease(LEASE_NS, LEASE_NAME);
}

/** Resolves once the monitor holds the Lease and has listed every kind. */
export async function leading(api: Api, s: Started, ms = 15_000): Promise<void> {
  await api.cluster.leaseUntil((l) => l?.spec?.holderIdentity === s.monitor.status().identity, LEASE_NS, LEASE_NAME, ms);
  await until('every kind listed', () => s.monitor.status().detail.startsWith('leading: 13/13 kinds listed'), { timeoutMs: ms, everyMs: 10, detail: () => s.monitor.status().detail });
}
