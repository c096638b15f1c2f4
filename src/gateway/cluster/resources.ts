import type { CompiledRules } from '../../enrich/k8s/pod-attributes.js';
import type { AttrValue, Resource } from '../../model/index.js';
import { parseImageRef } from '../../sources/container/image-ref.js';
import type { ObjectReference } from './event.js';
import type { ClusterObject } from './kinds/kind.js';
import type { ContainerObject, PodObject } from './kinds/pod.js';
import type { HpaObject } from './kinds/hpa.js';
import type { PvcObject } from './kinds/pvc.js';
import type { ClusterGraph } from './object-graph.js';

/**
 * The OTLP resource of each object, with the attributes the agents put on the same entity, so
 * that cluster-level and node-level series join: a pod's are exactly what src/enrich/k8s/ adds to
 * the agents' pod and container records (`CompiledRules.podAttributes`: workload, cluster,
 * allow-listed labels and annotations, `dt.cost.*`), from the same `kubernetes.*` settings; a
 * container adds `k8s.container.name` and the image as the agents parse it.
 *
 * Built when an interval (or an event) needs them and not kept: a resource per pod held between
 * intervals would cost more memory than the pod itself. The key is the object's identity (kind
 * and uid), which is what the encoder groups by.
 */

/** The semconv name and uid attributes of each kind that has them. */
const IDENTITY: Readonly<Record<string, readonly [name: string, uid: string]>> = {
  Deployment: ['k8s.deployment.name', 'k8s.deployment.uid'],
  ReplicaSet: ['k8s.replicaset.name', 'k8s.replicaset.uid'],
  StatefulSet: ['k8s.statefulset.name', 'k8s.statefulset.uid'],
  DaemonSet: ['k8s.daemonset.name', 'k8s.daemonset.uid'],
  Job: ['k8s.job.name', 'k8s.job.uid'],
  CronJob: ['k8s.cronjob.name', 'k8s.cronjob.uid'],
  HorizontalPodAutoscaler: ['k8s.hpa.name', 'k8s.hpa.uid'],
  ResourceQuota: ['k8s.resourcequota.name', 'k8s.resourcequota.uid'],
  PersistentVolumeClaim: ['k8s.persistentvolumeclaim.name', 'k8s.persistentvolumeclaim.uid'],
  Service: ['k8s.service.name', 'k8s.service.uid'],
  ReplicationController: ['k8s.replicationcontroller.name', 'k8s.replicationcontroller.uid'],
};

/** Kinds that are a workload of their own (`k8s.workload.kind`), as the agents' pods name theirs. */
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet']);

function resource(attributes: Record<string, AttrValue>, key: string): Resource {
  return { attributes, key };
}

export class ResourceBuilder {
  readonly #rules: CompiledRules;
  readonly #graph: ClusterGraph;

  constructor(rules: CompiledRules, graph: ClusterGraph) {
    this.#rules = rules;
    this.#graph = graph;
  }

  /** The pod's attributes, as the agents add them to its records. */
  podAttributes(p: PodObject): Record<string, AttrValue> {
    const g = this.#graph;
    return this.#rules.podAttributes(p, g.namespace(p.namespace), g.workloadOf(p), g.clusterUid, p.nodeName);
  }

  pod(p: PodObject): Resource {
    return resource(this.podAttributes(p), `Pod/${p.uid}`);
  }

  container(p: PodObject, podAttributes: Readonly<Record<string, AttrValue>>, c: ContainerObject): Resource {
    const a: Record<string, AttrValue> = { ...podAttributes };
    a['k8s.container.name'] = c.name;
    const image = parseImageRef(c.image);
    if (image.name !== undefined) a['container.image.name'] = image.name;
    if (image.tag !== undefined) a['container.image.tags'] = [image.tag];
    return resource(a, `Container/${p.uid}/${c.name}`);
  }

  node(uid: string, name: string): Resource {
    return resource(this.#cluster({ 'k8s.node.name': name, 'k8s.node.uid': uid }), `Node/${uid}`);
  }

  /** Any object that is not a pod or a node: its namespace's attributes, its own identity, its owners'. */
  object(o: ClusterObject): Resource {
    if (o.kind === 'Node') return this.node(o.uid, o.name);
    const g = this.#graph;
    // A namespace's own attributes are what its objects get from it.
    if (o.kind === 'Namespace') return resource(this.#rules.namespaceAttributes(o.name, g.namespace(o.name), g.clusterUid), `Namespace/${o.uid}`);
    const a = this.#rules.namespaceAttributes(o.namespace, g.namespace(o.namespace), g.clusterUid);
    // Owners first, the object last: its own identity is what the series is about.
    const owners = g.owners(o);
    for (let i = owners.length - 1; i >= 0; i--) identify(a, owners[i]!);
    if (owners.length === 0 && o.controller !== undefined) {
      // An owner that is not watched (or not there yet) still names itself in the reference.
      const keys = IDENTITY[o.controller.kind];
      if (keys !== undefined) {
        a[keys[0]] = o.controller.name;
        if (o.controller.uid.length > 0) a[keys[1]] = o.controller.uid;
      }
    }
    identify(a, o);
    if (WORKLOADS.has(o.kind)) {
      const root = owners.length > 0 && WORKLOADS.has(owners[owners.length - 1]!.kind) ? owners[owners.length - 1]! : o;
      a['k8s.workload.kind'] = root.kind.toLowerCase();
      a['k8s.workload.name'] = root.name;
    }
    if (o.kind === 'HorizontalPodAutoscaler') {
      const t = (o as HpaObject).target;
      if (t.kind.length > 0) a['k8s.hpa.scaletargetref.kind'] = t.kind;
      if (t.name.length > 0) a['k8s.hpa.scaletargetref.name'] = t.name;
      if (t.apiVersion.length > 0) a['k8s.hpa.scaletargetref.api_version'] = t.apiVersion;
    } else if (o.kind === 'PersistentVolumeClaim') {
      const sc = (o as PvcObject).storageClass;
      if (sc.length > 0) a['k8s.storageclass.name'] = sc;
    }
    return resource(a, `${o.kind}/${o.uid}`);
  }

  /**
   * The resource of an object an event is about: the object's own when the graph has it, else
   * what the reference itself says (an event can outlive its pod, or be about a kind that is not
   * watched).
   */
  reference(r: ObjectReference): Resource {
    const g = this.#graph;
    if (r.kind === 'Node') {
      // The kubelet's events about its node carry the node's name as the uid.
      const node = g.find('Node', '', r.name);
      return node !== undefined ? this.object(node) : this.#nodeByName(r.name);
    }
    if (r.uid.length > 0) {
      const known = g.get(r.kind, r.uid);
      if (known !== undefined) return known.kind === 'Pod' ? this.pod(known as PodObject) : this.object(known);
    }
    const a = this.#rules.namespaceAttributes(r.namespace, g.namespace(r.namespace), g.clusterUid);
    if (r.kind === 'Pod') {
      a['k8s.pod.name'] = r.name;
      if (r.uid.length > 0) a['k8s.pod.uid'] = r.uid;
    } else {
      const keys = IDENTITY[r.kind];
      if (keys !== undefined) {
        a[keys[0]] = r.name;
        if (r.uid.length > 0) a[keys[1]] = r.uid;
      }
    }
    return resource(a, `Ref/${r.kind}/${r.namespace}/${r.name}/${r.uid}`);
  }

  #nodeByName(name: string): Resource {
    return resource(this.#cluster({ 'k8s.node.name': name }), `Node//${name}`);
  }

  #cluster(a: Record<string, AttrValue>): Record<string, AttrValue> {
    if (this.#rules.clusterName.length > 0) a['k8s.cluster.name'] = this.#rules.clusterName;
    const uid = this.#graph.clusterUid;
    if (uid !== undefined) a['k8s.cluster.uid'] = uid;
    return a;
  }
}

function identify(a: Record<string, AttrValue>, o: ClusterObject): void {
  const keys = IDENTITY[o.kind];
  if (keys === undefined) return;
  a[keys[0]] = o.name;
  a[keys[1]] = o.uid;
}
