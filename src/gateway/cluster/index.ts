import type { KubernetesConfig } from '../../enrich/k8s/kubernetes-metadata.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import type { Readiness } from '../../self/server.js';
import { createClusterMonitor, type ClusterMonitor } from './cluster-monitor.js';
import type { ClusterSection } from './config.js';
import { ingestOutput, type IngestTarget } from './ingest-output.js';

export { clusterKeys, type ClusterSection } from './config.js';
export { createClusterMonitor, LEASE_NAME, type ClusterMonitor, type ClusterMonitorConfig, type ClusterMonitorDeps, type ClusterStatus, type ClusterTuning } from './cluster-monitor.js';
export type { ClusterGraph } from './object-graph.js';
export type { ClusterOutput, ClusterSignal, DeliveryOutcome } from './output.js';
export { ingestOutput, type IngestTarget } from './ingest-output.js';

/**
 * The gateway's cluster monitor, wired the way `sextant gateway` runs it: its OTLP goes through
 * `gateway.ingest` (the store and the upstream, like any received request), its state is a
 * `/readyz` detail, its checkpoint lives under the gateway's data directory.
 */
export function startClusterMonitor(
  config: { readonly cluster: ClusterSection; readonly kubernetes: KubernetesConfig; readonly gateway: { readonly dataDir: string } },
  gateway: IngestTarget,
  deps: { readonly registry: Registry; readonly logger: Logger; readonly readiness: Readiness; readonly version: string },
): ClusterMonitor {
  const monitor = createClusterMonitor(
    { cluster: config.cluster, kubernetes: config.kubernetes },
    { logger: deps.logger, registry: deps.registry, version: deps.version, output: ingestOutput(gateway), dataDir: config.gateway.dataDir },
  );
  deps.readiness.addDetail('cluster monitor', () => monitor.status().detail);
  monitor.start();
  return monitor;
}
