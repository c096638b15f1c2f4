import type { ContainerMetadataCache } from '../container/metadata-cache.js';
import type { CreatedSource, SourceDeps } from '../types.js';
import type { LogsConfig } from './config.js';
import { LogSource, type LogSourceConfig, type LogSourceDeps } from './logs-source.js';

/** What the log source takes from the sources built before it. */
export interface LogNeeds {
  /** The container source's metadata cache, when that source is on: names beyond what a log file's path gives. */
  readonly containerMetadata?: ContainerMetadataCache | undefined;
  /** The native addon is allowed (config key `native`): its Docker log pinning thread. */
  readonly native?: boolean | undefined;
}

/** The log source: pod and container log files, and `logs.globs`, tailed from the state directory's checkpoints. */
export async function create(config: LogsConfig, deps: SourceDeps & LogNeeds): Promise<CreatedSource<LogSource>> {
  const options: LogSourceConfig = {
    hostRoot: deps.hostRoot,
    stateDir: deps.stateDir,
    readFrom: config.readFrom,
    maxRecordBytes: config.maxRecordBytes,
    rescanIntervalMs: config.rescanInterval,
    checkpointIntervalMs: config.checkpointInterval,
    rotateWaitMs: config.rotateWait,
    globs: config.globs,
    multilineStart: config.multilineStart,
    multilineContainers: config.multilineContainers,
    ...(deps.nodeName === undefined ? {} : { nodeName: deps.nodeName }),
    ...(deps.native === undefined ? {} : { native: deps.native }),
  };
  const sourceDeps: LogSourceDeps = {
    resource: deps.resource,
    registry: deps.registry,
    logger: deps.logger,
    version: deps.version,
    ...(deps.containerMetadata === undefined ? {} : { cache: deps.containerMetadata }),
  };
  const source = new LogSource(options, sourceDeps);
  return {
    source,
    setHostResource: (resource) => source.setHostResource(resource),
    setPodMetadata: (pods) => source.setPodMetadata(pods),
  };
}
