import { readFile } from 'node:fs/promises';
import type { Resource } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import { CgroupDiscovery } from '../lib/cgroup/cgroup-discovery.js';
import { type CgroupLayout, parseCgroupMounts } from '../lib/cgroup/cgroup-mounts.js';
import { CgroupStatsReader } from '../lib/cgroup/cgroup-stats.js';
import type { RecordSink } from '../types.js';
import { ContainerSource } from './container-source.js';
import { CriClient } from './cri-client.js';
import { DockerClient } from './docker-client.js';
import { ContainerMetadataCache } from './metadata-cache.js';
import type { RuntimeClient } from './types.js';

export { ContainerMetadataCache } from './metadata-cache.js';
export { ContainerSource } from './container-source.js';

export interface ContainerSourceConfig {
  readonly hostRoot: string;
  /** Host paths (under hostRoot) of Docker Engine API sockets. */
  readonly dockerSockets: readonly string[];
  /** Host paths (under hostRoot) of CRI v1 sockets. */
  readonly criSockets: readonly string[];
  readonly callTimeoutMs: number;
  readonly resyncIntervalMs: number;
  /** `k8s.node.name`; undefined leaves it off. */
  readonly nodeName: string | undefined;
}

export interface ContainerSourceFactoryDeps {
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  readonly sink: RecordSink;
}

function underRoot(hostRoot: string, p: string): string {
  const root = hostRoot.endsWith('/') ? hostRoot.slice(0, -1) : hostRoot;
  return root + p;
}

/**
 * The runtime clients for the configured sockets (each disables itself with one log line when
 * its socket is absent, and is looked for again later), the shared metadata cache, and the
 * container source over the host's cgroup layout. Returns the cache too: the log source (M1.4)
 * names its files from it.
 */
export async function createContainerSource(config: ContainerSourceConfig, deps: ContainerSourceFactoryDeps): Promise<{ source: ContainerSource; cache: ContainerMetadataCache }> {
  const clients: RuntimeClient[] = [];
  for (const s of config.dockerSockets) clients.push(new DockerClient({ socketPath: underRoot(config.hostRoot, s) }));
  for (const s of config.criSockets) {
    // The name until Version says otherwise: it is what the "no socket" line calls the runtime.
    const runtime = s.includes('crio') ? 'cri-o' : 'containerd';
    clients.push(new CriClient({ socketPath: underRoot(config.hostRoot, s), runtime, callTimeoutMs: config.callTimeoutMs }));
  }
  const cache = new ContainerMetadataCache(clients, {
    callTimeoutMs: config.callTimeoutMs,
    resyncIntervalMs: config.resyncIntervalMs,
    logger: deps.logger,
    registry: deps.registry,
  });
  const layout = await readLayout(config.hostRoot, deps.logger);
  const discovery = new CgroupDiscovery(config.hostRoot, layout);
  const truncated = deps.registry.counter('sextant_cgroup_walk_truncated_total', 'Cgroup walks stopped at their directory cap (containers past it were not seen).');
  const source = new ContainerSource({
    hostRoot: config.hostRoot,
    resource: deps.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    cache,
    layout,
    stats: new CgroupStatsReader(config.hostRoot, layout),
    discover: async () => {
      const r = await discovery.discover();
      if (r.truncated) truncated.inc();
      return r.containers;
    },
    sink: deps.sink,
    ...(config.nodeName === undefined ? {} : { nodeName: config.nodeName }),
  });
  return { source, cache };
}

/** The host's cgroup mounts, from its init's mount table. Without one, containers are not measured (names and events still work). */
async function readLayout(hostRoot: string, logger: Logger): Promise<CgroupLayout> {
  const file = underRoot(hostRoot, '/proc/1/mountinfo');
  try {
    const layout = parseCgroupMounts(await readFile(file, 'utf8'));
    if (layout.mode === undefined) logger.warn({ file }, 'no cgroup filesystem is mounted: container metrics are off');
    else logger.info({ mode: layout.mode }, 'cgroup layout');
    return layout;
  } catch (err) {
    logger.warn({ file, err: (err as Error).message }, 'cannot read the host mount table: container metrics are off');
    return parseCgroupMounts('');
  }
}
