import path from 'node:path';
import { formatListen } from '../config-kinds/values.js';
import { createLogger } from '../self/logger.js';
import { Registry } from '../self/registry.js';
import { Readiness, registerProcessMetrics, startSelfServer } from '../self/server.js';
import { untilStopSignal } from '../self/stop-signal.js';
import { packageVersion } from '../version.js';
import { gatewayConfigFrom, type GatewayProcessConfig } from './from-config.js';
import { startGateway } from './gateway.js';

/**
 * `sextant gateway`: serve OTLP/HTTP until SIGTERM/SIGINT, then stop accepting, finish what is
 * in flight and flush the store and forward queues within the shutdown deadline.
 */
export async function runGateway(config: GatewayProcessConfig, options: { loaded?: { readonly warnings: readonly { readonly key: string; readonly message: string }[] } } = {}): Promise<number> {
  const logger = createLogger(config.logLevel);
  for (const w of options.loaded?.warnings ?? []) logger.warn({ key: w.key }, w.message);
  const registry = new Registry();
  registerProcessMetrics(registry);
  const readiness = new Readiness();
  const gateway = await startGateway(gatewayConfigFrom(config), { registry, logger });
  let grpc: { close(): Promise<void> } | undefined;
  if (config.gateway.grpcListen.port !== 0) {
    // Loaded only when configured: grpc-js is a large module graph.
    const { startGrpcIngest } = await import('./grpc-ingest.js');
    const g = config.gateway;
    grpc = await startGrpcIngest(gateway, { listen: formatListen(g.grpcListen), tokens: g.tokens, maxMessageBytes: g.maxDecompressedBytes, shutdownTimeoutMs: config.shutdownTimeout }, { registry, logger }).catch(async (err: unknown) => {
      await gateway.close();
      throw err;
    });
  }
  readiness.addDetail('store', () => gateway.storeStatus());
  // The cluster monitor (a Lease elects one replica); its module loads only when it may run.
  let cluster: { stop(): Promise<void> } | undefined;
  if (config.cluster.enabled !== 'false') {
    const { startClusterMonitor } = await import('./cluster/index.js');
    const monitor = startClusterMonitor(config, gateway, { registry, logger, readiness, version: packageVersion() });
    gateway.useClusterGraph(() => monitor.graph);
    cluster = monitor;
  }
  readiness.markReady();
  const self = await startSelfServer(config.listen, { registry, readiness, logger });
  logger.info(
    {
      version: packageVersion(),
      url: gateway.url,
      listen: formatListen(config.listen),
      dataDir: path.resolve(config.gateway.dataDir),
      upstream: config.gateway.upstream ?? null,
    },
    'gateway started',
  );
  if (gateway.explorerUrl !== undefined) logger.info({ explorer: gateway.explorerUrl }, `explorer: ${gateway.explorerUrl} (log in with a read token of gateway.readTokens)`);
  const signal = await untilStopSignal(logger);
  logger.info({ signal }, 'gateway stopping');
  readiness.markNotReady('shutting down');
  // The cluster monitor first (it releases its Lease for the next replica), then gRPC: both end
  // in the gateway's store, which closes next.
  await cluster?.stop();
  await grpc?.close();
  await gateway.close();
  await self.close();
  logger.info('gateway stopped');
  return 0;
}
