import type { ConfigOf } from '../../config-kinds/section.js';
import { boolean, duration, hostPaths } from '../../config-kinds/values.js';

/**
 * The `containers:` section of the configuration (`src/config/schema.ts` places it): every key a
 * user can set for the container source, with its default. The value kinds check each one (paths
 * absolute, durations in range) at load; nothing here needs a check across keys.
 */
export const CONTAINERS_KEYS = {
  enabled: boolean({ description: 'Collect container and pod metrics and container lifecycle events. Default from mode.', default: true }),
  dockerSockets: hostPaths({ description: 'Docker Engine API sockets to try, under hostRoot (empty: Docker off).', default: ['/var/run/docker.sock'] }),
  criSockets: hostPaths({
    description: 'CRI v1 sockets to try, under hostRoot: containerd, CRI-O (empty: CRI off). Every one that exists is used.',
    default: ['/run/containerd/containerd.sock', '/var/run/crio/crio.sock'],
  }),
  callTimeout: duration({ description: 'Deadline of one container runtime call; a hung runtime costs a cycle at most this.', default: '2s', min: '10ms', max: '1m' }),
  resyncInterval: duration({ description: 'How often a runtime with an event stream (Docker) is listed in full anyway.', default: '60s', min: '1s', max: '1h' }),
};

/** The `containers:` section as loaded (durations in ms): what `create` (index.ts) takes. */
export type ContainersConfig = ConfigOf<typeof CONTAINERS_KEYS>;
