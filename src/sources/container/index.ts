import { readFile } from 'node:fs/promises';
import type { Logger } from '../../self/logger.js';
import { CgroupDiscovery } from '../lib/cgroup/cgroup-discovery.js';
import { type CgroupLayout, parseCgroupMounts } from '../lib/cgroup/cgroup-mounts.js';
import { CgroupStatsReader } from '../lib/cgroup/cgroup-stats.js';
import type { CreatedSource, SourceDeps } from '../types.js';
import type { ContainersConfig } from './config.js';
import { ContainerSource } from './container-source.js';
import { CriClient } from './cri-client.js';
import { DockerClient } from './docker-client.js';
import { ContainerMetadataCache } from './metadata-cache.js';
import type { RuntimeClient } from './types.js';

/** What the container source hands the sources built after it. */
export interface ContainerProvides {
  /** Runtime metadata by container id (names, pod, image): the log source names its files from it. */
  readonly containerMetadata: ContainerMetadataCache;
}

function underRoot(hostRoot: string, p: string): string {
  const root = hostRoot.endsWith('/') ? hostRoot.slice(0, -1) : hostRoot;
  return root + p;
}

/**
 * The runtime clients for the configured sockets (each disables itself with one log line when
 * its socket is absent, and is looked for again later), the shared metadata cache, and the
 * container source over the host's cgroup layout. The cache is provided to the sources built
 * after it: the log source names its files from it.
 */
export async function create(config: ContainersConfig, deps: SourceDeps): Promise<CreatedSource<ContainerSource, ContainerProvides>> {
  const hostRoot = deps.hostRoot;
  const clients: RuntimeClient[] = [];
  for (const s of config.dockerSockets) clients.push(new DockerClient({ socketPath: underRoot(hostRoot, s) }));
  for (const s of config.criSockets) {
    // The name until Version says otherwise: it is what the "no socket" line calls the runtime.
    const runtime = s.includes('crio') ? 'cri-o' : 'containerd';
    clients.push(new CriClient({ socketPath: underRoot(hostRoot, s), runtime, callTimeoutMs: config.callTimeout }));
  }
  const cache = new ContainerMetadataCache(clients, {
    callTimeoutMs: config.callTimeout,
    resyncIntervalMs: config.resyncInterval,
    logger: deps.logger,
    registry: deps.registry,
  });
  const layout = await readLayout(hostRoot, deps.logger);
  const discovery = new CgroupDiscovery(hostRoot, layout);
  const truncated = deps.registry.counter('sextant_cgroup_walk_truncated_total', 'Cgroup walks stopped at their directory cap (containers past it were not seen).');
  const source = new ContainerSource({
    hostRoot,
    resource: deps.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    cache,
    layout,
    stats: new CgroupStatsReader(hostRoot, layout),
    discover: async () => {
      const r = await discovery.discover();
      if (r.truncated) truncated.inc();
      return r.containers;
    },
    sink: deps.sink,
    ...(deps.nodeName === undefined ? {} : { nodeName: deps.nodeName }),
  });
  return {
    source,
    setHostResource: (resource) => source.setHostResource(resource),
    setPodMetadata: (pods) => source.setPodMetadata(pods),
    provides: { containerMetadata: cache },
  };
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
