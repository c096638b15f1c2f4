import { clockTicks } from '../../native/index.js';
import type { CreatedSource, SourceDeps } from '../types.js';
import { type HostConfig, hostSourceOptions } from './config.js';
import { HostSource } from './host-source.js';

/** What the host source hands the sources built after it. */
export interface HostProvides {
  /** Boot time (btime), Unix ns, pinned before the first cycle: the process source dates process starts from it. */
  readonly bootTimeUnixNano: () => bigint;
}

/**
 * The host source, with its reboot check done: before the first cycle it pins the boot time and
 * offers one `sextant.host.reboot` event when the kernel's boot id differs from the one in the
 * state directory. The agent builds it even when `host.enabled` is off, for that boot time.
 */
export async function create(config: HostConfig, deps: SourceDeps): Promise<CreatedSource<HostSource, HostProvides>> {
  const source = new HostSource(hostSourceOptions(config, deps.hostRoot), {
    resource: deps.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    reader: deps.reader,
    clockTicks: clockTicks(),
  });
  await source.detectReboot(deps.stateDir, deps.sink);
  return {
    source,
    setHostResource: (resource) => source.setResource(resource),
    provides: { bootTimeUnixNano: () => source.bootTimeUnixNano },
  };
}
