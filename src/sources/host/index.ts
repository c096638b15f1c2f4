import { clockTicks } from '../../native/index.js';
import type { HostSourceOptions } from './config.js';
import { HostSource, type HostSourceDeps } from './host-source.js';

export { DEFAULT_HOST_CONFIG, type HostSourceConfig, type HostSourceOptions, resolveHostConfig } from './config.js';
export { HostSource, type HostSourceDeps } from './host-source.js';
export { BOOT_ID_FILE, REBOOT_EVENT, type RebootCheck } from './reboot.js';

/** `clockTicks` is USER_HZ; read once from the system when not given. */
export function create(options: HostSourceOptions, deps: Omit<HostSourceDeps, 'clockTicks'> & { clockTicks?: number }): HostSource {
  return new HostSource(options, { ...deps, clockTicks: deps.clockTicks ?? clockTicks() });
}
