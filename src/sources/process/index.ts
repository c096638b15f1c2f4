import { clockTicks, pageSize } from '../../native/index.js';
import type { CreatedSource, SourceDeps } from '../types.js';
import type { ProcessConfig } from './config.js';
import { ProcessSource } from './process-source.js';

/** What the process source takes from the sources built before it. */
export interface ProcessNeeds {
  /** The host's boot time (the host source's): a process started at boot + starttime / USER_HZ. */
  readonly bootTimeUnixNano: () => bigint;
}

/** The process source over the agent's /proc reader, USER_HZ and page size read once from the system. */
export async function create(config: ProcessConfig, deps: SourceDeps & ProcessNeeds): Promise<CreatedSource<ProcessSource>> {
  const source = new ProcessSource(config, {
    reader: deps.reader,
    hostRoot: deps.hostRoot,
    resource: deps.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    clockTicks: clockTicks(),
    pageSize: pageSize(),
    bootTimeUnixNano: deps.bootTimeUnixNano,
  });
  return { source, setHostResource: (resource) => source.setHostResource(resource) };
}
