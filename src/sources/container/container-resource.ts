import type { PodMetadataLookup } from '../../enrich/k8s/pod-metadata-index.js';
import { type AttrValue, createResource, type Resource } from '../../model/index.js';
import type { CgroupIdentity } from '../lib/cgroup/cgroup-path.js';
import type { ContainerInfo, PodInfo } from './types.js';

/**
 * Resources of a container and of a pod, on top of the host's attributes. What the runtime says
 * wins; without it (no socket, or a container the runtime does not list) the cgroup path still
 * gives the container id, the pod uid and often the runtime, so the series exist and join later
 * data by id.
 *
 * With Kubernetes metadata (`pods`, src/enrich/k8s/), the pod's attributes from the API are added
 * — workload, cluster, labels, cost allocation — under what the runtime and the cgroup path say:
 * they never replace an id or a name the runtime gave. Callers cache the resource and build it
 * again when the lookup's version moves.
 */

export function containerResource(
  host: Resource,
  id: string,
  info: ContainerInfo | undefined,
  cgroup: CgroupIdentity | undefined,
  nodeName: string | undefined,
  pods?: PodMetadataLookup,
): Resource {
  const a: Record<string, AttrValue> = { ...host.attributes };
  a['container.id'] = id;
  const runtime = info?.runtime ?? cgroup?.runtime;
  if (runtime !== undefined) a['container.runtime.name'] = runtime;
  if (info) {
    if (info.name.length > 0) a['container.name'] = info.name;
    if (info.imageName !== undefined) a['container.image.name'] = info.imageName;
    if (info.imageTags !== undefined && info.imageTags.length > 0) a['container.image.tags'] = info.imageTags;
  }
  const pod = info?.pod;
  if (pod) {
    addPod(a, pod, nodeName);
    a['k8s.container.name'] = info.name;
    a['k8s.container.restart_count'] = info.restartCount;
  } else if (cgroup?.podUid !== undefined) {
    a['k8s.pod.uid'] = cgroup.podUid;
    if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
  }
  const uid = pod?.uid ?? cgroup?.podUid;
  if (uid !== undefined) addPodMetadata(a, pods, uid);
  return createResource(a);
}

export function podResource(host: Resource, podUid: string, pod: PodInfo | undefined, nodeName: string | undefined, pods?: PodMetadataLookup): Resource {
  const a: Record<string, AttrValue> = { ...host.attributes };
  if (pod) addPod(a, pod, nodeName);
  else {
    a['k8s.pod.uid'] = podUid;
    if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
  }
  addPodMetadata(a, pods, podUid);
  return createResource(a);
}

/** Adds the API's attributes of pod `uid` that `a` does not have yet (what is there wins). */
export function addPodMetadata(a: Record<string, AttrValue>, pods: PodMetadataLookup | undefined, uid: string): void {
  const meta = pods?.byUid(uid);
  if (meta === undefined) return;
  const m = meta.attributes;
  for (const k in m) if (!(k in a)) a[k] = m[k]!;
}

function addPod(a: Record<string, AttrValue>, pod: PodInfo, nodeName: string | undefined): void {
  a['k8s.pod.uid'] = pod.uid;
  if (pod.name.length > 0) a['k8s.pod.name'] = pod.name;
  if (pod.namespace.length > 0) a['k8s.namespace.name'] = pod.namespace;
  if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
}
