import { type AttrValue, createResource, type Resource } from '../../model/index.js';
import type { CgroupIdentity } from '../cgroup/cgroup-path.js';
import type { ContainerInfo, PodInfo } from './types.js';

/**
 * Resources of a container and of a pod, on top of the host's attributes. What the runtime says
 * wins; without it (no socket, or a container the runtime does not list) the cgroup path still
 * gives the container id, the pod uid and often the runtime, so the series exist and join later
 * data by id.
 */

export function containerResource(host: Resource, id: string, info: ContainerInfo | undefined, cgroup: CgroupIdentity | undefined, nodeName: string | undefined): Resource {
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
  return createResource(a);
}

export function podResource(host: Resource, podUid: string, pod: PodInfo | undefined, nodeName: string | undefined): Resource {
  const a: Record<string, AttrValue> = { ...host.attributes };
  if (pod) addPod(a, pod, nodeName);
  else {
    a['k8s.pod.uid'] = podUid;
    if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
  }
  return createResource(a);
}

function addPod(a: Record<string, AttrValue>, pod: PodInfo, nodeName: string | undefined): void {
  a['k8s.pod.uid'] = pod.uid;
  if (pod.name.length > 0) a['k8s.pod.name'] = pod.name;
  if (pod.namespace.length > 0) a['k8s.namespace.name'] = pod.namespace;
  if (nodeName !== undefined) a['k8s.node.name'] = nodeName;
}
