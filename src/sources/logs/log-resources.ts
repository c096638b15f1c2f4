import type { PodMetadataLookup } from '../../enrich/k8s/pod-metadata-index.js';
import { type AttrValue, createResource, type Resource } from '../../model/index.js';
import { addPodMetadata, containerResource } from '../container/container-resource.js';
import type { ContainerMetadataCache } from '../container/metadata-cache.js';
import type { LogFile } from './log-discovery.js';
import { parseLogPath } from './log-path.js';
import { MultilineJoiner } from './multiline-joiner.js';

/**
 * Resource building for log files: the resource a file's records carry (the container's, as the
 * metrics carry it, when the metadata cache knows it; else what the path says; plus
 * `log.file.path`), and whether multiline joining applies to the file (by its container's name).
 * `version` moves whenever anything a resource is built from changes, so each file rebuilds its
 * resource once, at its next record, and never per record.
 */

export interface LogResourcesOptions {
  readonly host: Resource;
  /** Names beyond what the path gives; without it the path alone is used. */
  readonly cache: ContainerMetadataCache | undefined;
  readonly pods: PodMetadataLookup | undefined;
  /** `k8s.node.name` on pod logs. */
  readonly nodeName: string | undefined;
  /** A record matching this starts a multiline entry; undefined or empty: off. */
  readonly multilineStart: string | undefined;
  /** Container names (`*` wildcards) multiline joining applies to; empty: every file. */
  readonly multilineContainers: readonly string[] | undefined;
  readonly maxRecordBytes: number;
}

export class LogResources {
  /**
   * Moves on every change of the host identity, the container cache or pod metadata. Compared
   * with a file's own on every record: a plain field, so reading it is one load, not a call.
   */
  version = 0;
  #host: Resource;
  #pods: PodMetadataLookup | undefined;
  readonly #cache: ContainerMetadataCache | undefined;
  readonly #nodeName: string | undefined;
  readonly #multilineStart: RegExp | undefined;
  readonly #multilineContainers: RegExp[];
  readonly #maxRecordBytes: number;

  constructor(options: LogResourcesOptions) {
    this.#host = options.host;
    this.#cache = options.cache;
    this.#nodeName = options.nodeName;
    this.#maxRecordBytes = options.maxRecordBytes;
    this.#multilineStart = options.multilineStart ? new RegExp(options.multilineStart) : undefined;
    this.#multilineContainers = (options.multilineContainers ?? []).map(globToRegExp);
    // A container the runtime names after its file was opened (the usual order: the file appears
    // with the container's first line): its records get the names from then on.
    options.cache?.onChange(() => this.version++);
    if (options.pods !== undefined) this.setPods(options.pods);
  }

  /** A later host identity: every file's next record carries it. */
  setHost(host: Resource): void {
    this.#host = host;
    this.version++;
  }

  /** Kubernetes pod metadata: when any pod's attributes change, each file's resource is rebuilt once. */
  setPods(pods: PodMetadataLookup): void {
    if (this.#pods === pods) return;
    this.#pods = pods;
    pods.onChange(() => this.version++);
    this.version++;
  }

  /** The joiner for a file whose records carry `resource`; undefined when joining does not apply to it. */
  joinerFor(file: LogFile, resource: Resource): MultilineJoiner | undefined {
    const start = this.#multilineStart;
    if (start === undefined) return undefined;
    const only = this.#multilineContainers;
    if (only.length > 0) {
      const name = resource.attributes['k8s.container.name'] ?? resource.attributes['container.name'];
      if (typeof name !== 'string' || !only.some((re) => re.test(name))) return undefined;
    }
    return new MultilineJoiner(start, this.#maxRecordBytes);
  }

  /**
   * A file's resource: the container's as the metrics carry it (container-resource.ts) when the
   * metadata cache knows it, else what the path says; plus `log.file.path`.
   */
  resourceFor(file: LogFile): Resource {
    const id = parseLogPath(file.path);
    const cache = this.#cache;
    const nodeName = this.#nodeName;
    let a: Record<string, AttrValue>;
    if (id?.kind === 'pod') {
      const info = cache?.podContainers(id.podUid).find((c) => !c.sandbox && c.name === id.containerName && c.restartCount === id.restartCount);
      if (info) {
        a = { ...containerResource(this.#host, info.id, info, undefined, nodeName, this.#pods).attributes };
      } else {
        a = { ...this.#host.attributes };
        a['k8s.namespace.name'] = id.namespace;
        a['k8s.pod.name'] = id.podName;
        a['k8s.pod.uid'] = id.podUid;
        a['k8s.container.name'] = id.containerName;
        a['k8s.container.restart_count'] = id.restartCount;
        if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
        addPodMetadata(a, this.#pods, id.podUid);
      }
    } else if (id?.kind === 'docker') {
      a = { ...containerResource(this.#host, id.containerId, cache?.get(id.containerId), { containerId: id.containerId, runtime: 'docker' }, nodeName, this.#pods).attributes };
    } else {
      a = { ...this.#host.attributes };
    }
    a['log.file.path'] = file.path;
    return createResource(a);
  }
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}
