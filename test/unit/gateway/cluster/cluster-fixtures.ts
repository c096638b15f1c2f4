import type { Obj } from './stand-in-cluster.js';

/**
 * A small cluster in the exact shapes of the Kubernetes API (core/v1, apps/v1, batch/v1,
 * autoscaling/v2, events.k8s.io/v1; field names and nesting as the API reference defines them,
 * validated against the API's OpenAPI schemas by kubernetes-models in fixtures.test.ts), with the
 * troubles the issue names: a Deployment stuck at 1 of 3 ready pods, a CrashLoopBackOff container,
 * a Pending pod with a FailedScheduling event, an ImagePullBackOff, events with a series, an
 * event written through the older core/v1 API (deprecated* fields, no eventTime).
 * Made-up names and uids; not captured from a live cluster.
 */

export const CLUSTER_UID = '4f1e8c2a-6b3d-4e5f-9a7b-0c1d2e3f4a5b';
export const UID = {
  shop: '11111111-0000-4000-8000-000000000001',
  nodeA: '22222222-0000-4000-8000-00000000000a',
  nodeB: '22222222-0000-4000-8000-00000000000b',
  checkout: '33333333-0000-4000-8000-000000000001',
  checkoutRs: '33333333-0000-4000-8000-000000000002',
  podRunning: '44444444-0000-4000-8000-000000000001',
  podCrashing: '44444444-0000-4000-8000-000000000002',
  podPending: '44444444-0000-4000-8000-000000000003',
  web: '33333333-0000-4000-8000-000000000003',
  web0: '44444444-0000-4000-8000-000000000004',
  fluentBit: '33333333-0000-4000-8000-000000000004',
  fluentBitPod: '44444444-0000-4000-8000-000000000005',
  report: '33333333-0000-4000-8000-000000000005',
  reportJob: '33333333-0000-4000-8000-000000000006',
  reportPod: '44444444-0000-4000-8000-000000000006',
  hpa: '55555555-0000-4000-8000-000000000001',
  quota: '55555555-0000-4000-8000-000000000002',
  pvc: '55555555-0000-4000-8000-000000000003',
  service: '55555555-0000-4000-8000-000000000004',
  evScheduling: '66666666-0000-4000-8000-000000000001',
  evBackOff: '66666666-0000-4000-8000-000000000002',
  evPull: '66666666-0000-4000-8000-000000000003',
  evScaling: '66666666-0000-4000-8000-000000000004',
  evNodeOld: '66666666-0000-4000-8000-000000000005',
};

const T0 = '2026-12-01T08:00:00Z';

function meta(name: string, namespace: string | undefined, uid: string, extra: Obj = {}): Obj {
  return { name, ...(namespace !== undefined ? { namespace } : {}), uid, creationTimestamp: T0, ...extra };
}

function owner(apiVersion: string, kind: string, name: string, uid: string): Obj[] {
  return [{ apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true }];
}

export function namespace(name: string, uid: string, extra: Obj = {}): Obj {
  return { metadata: meta(name, undefined, uid, extra), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export function nodeConditions(ready: 'True' | 'False' | 'Unknown'): Obj[] {
  const c = (type: string, status: string, reason: string, message: string): Obj => ({ type, status, lastHeartbeatTime: T0, lastTransitionTime: T0, reason, message });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready === 'True'
      ? c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
      : ready === 'Unknown'
        ? c('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.')
        : c('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready'),
  ];
}

export function node(name: string, uid: string, ready: 'True' | 'False' | 'Unknown' = 'True'): Obj {
  return {
    metadata: meta(name, undefined, uid, { labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } }),
    spec: { podCIDR: '10.244.0.0/24', providerID: `kind://docker/${name}` },
    status: {
      capacity: { cpu: '4', memory: '16374228Ki', 'ephemeral-storage': '102626232Ki', pods: '110', 'hugepages-2Mi': '0' },
      allocatable: { cpu: '3800m', memory: '15Gi', 'ephemeral-storage': '94580335255', pods: '110', 'hugepages-2Mi': '0' },
      conditions: nodeConditions(ready),
      addresses: [
        { type: 'InternalIP', address: '172.18.0.2' },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        machineID: 'a1b2c3',
        systemUUID: 'd4e5f6',
        bootID: '0a1b2c3d',
        kernelVersion: '6.1.0',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.13',
        kubeletVersion: 'v1.35.0',
        kubeProxyVersion: 'v1.35.0',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

interface ContainerSpec {
  name: string;
  image: string;
  requests?: Obj;
  limits?: Obj;
  status?: Obj;
}

function podConditions(scheduled: boolean, ready: boolean): Obj[] {
  if (!scheduled) return [{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: T0, reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient cpu.' }];
  return [
    { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: T0 },
    { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: T0 },
    { type: 'Ready', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: T0, ...(ready ? {} : { reason: 'ContainersNotReady', message: 'containers with unready status: [app]' }) },
    { type: 'ContainersReady', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: T0, ...(ready ? {} : { reason: 'ContainersNotReady', message: 'containers with unready status: [app]' }) },
    { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: T0 },
  ];
}

export function pod(o: {
  name: string;
  namespace: string;
  uid: string;
  node?: string;
  owner?: Obj[];
  labels?: Obj;
  annotations?: Obj;
  phase: string;
  ready?: boolean;
  containers: ContainerSpec[];
  claims?: string[];
}): Obj {
  const scheduled = o.node !== undefined;
  return {
    metadata: meta(o.name, o.namespace, o.uid, {
      generateName: `${o.name.replace(/-[^-]+$/, '')}-`,
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.owner ? { ownerReferences: o.owner } : {}),
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: T0, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': {} } } }],
    }),
    spec: {
      volumes: [
        ...(o.claims ?? []).map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })),
        { name: 'kube-api-access-x1', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }], defaultMode: 420 } },
      ],
      containers: o.containers.map((c) => ({
        name: c.name,
        image: c.image,
        resources: { ...(c.requests ? { requests: c.requests } : {}), ...(c.limits ? { limits: c.limits } : {}) },
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      })),
      restartPolicy: o.phase === 'Succeeded' ? 'OnFailure' : 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      ...(scheduled ? { nodeName: o.node } : {}),
      securityContext: {},
      schedulerName: 'default-scheduler',
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: o.phase,
      conditions: podConditions(scheduled, o.ready ?? false),
      qosClass: 'Burstable',
      ...(scheduled
        ? {
            hostIP: '172.18.0.2',
            hostIPs: [{ ip: '172.18.0.2' }],
            podIP: '10.244.0.7',
            podIPs: [{ ip: '10.244.0.7' }],
            startTime: T0,
            containerStatuses: o.containers.filter((c) => c.status).map((c) => ({ name: c.name, image: c.image, imageID: '', ...c.status })),
          }
        : {}),
    },
  };
}

export function running(restarts = 0): Obj {
  return { ready: true, restartCount: restarts, started: true, containerID: 'containerd://0f3a9c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8', state: { running: { startedAt: T0 } }, lastState: {} };
}

export function crashLoop(restarts: number): Obj {
  return {
    ready: false,
    restartCount: restarts,
    started: false,
    containerID: 'containerd://9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d',
    state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container=app pod=checkout-7d9f8b6c5d-bbbbb_shop(44444444-0000-4000-8000-000000000002)' } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T0, finishedAt: '2026-12-01T08:05:00Z', containerID: 'containerd://1a2b3c4d5e6f' } },
  };
}

export function imagePull(): Obj {
  return { ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example.com/shop/web:2.0-typo"' } }, lastState: {} };
}

export function completed(): Obj {
  return {
    ready: false,
    restartCount: 0,
    started: false,
    containerID: 'containerd://5c4d3e2f1a0b',
    state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: T0, finishedAt: '2026-12-01T08:01:00Z', containerID: 'containerd://5c4d3e2f1a0b' } },
    lastState: {},
  };
}

const APP_RESOURCES = { requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } };

export function event(o: {
  name: string;
  namespace: string;
  uid: string;
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
  action?: string;
  regarding: Obj;
  controller: string;
  instance: string;
  count?: number;
}): Obj {
  return {
    metadata: meta(o.name, o.namespace, o.uid),
    eventTime: '2026-12-01T08:00:00.000000Z',
    ...(o.count !== undefined && o.count > 1 ? { series: { count: o.count, lastObservedTime: '2026-12-01T08:09:30.123456Z' } } : {}),
    reportingController: o.controller,
    reportingInstance: o.instance,
    action: o.action ?? o.reason,
    reason: o.reason,
    regarding: o.regarding,
    note: o.note,
    type: o.type,
  };
}

/** Every object of the demo cluster, by kind, in the order a test would create them. */
export function demoCluster(): Array<[kind: string, object: Obj]> {
  const rs = owner('apps/v1', 'ReplicaSet', 'checkout-7d9f8b6c5d', UID.checkoutRs);
  const checkoutLabels = { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d', 'app.kubernetes.io/name': 'checkout' };
  const podRef = (name: string, uid: string, fieldPath?: string): Obj => ({ kind: 'Pod', namespace: 'shop', name, uid, apiVersion: 'v1', resourceVersion: '1100', ...(fieldPath ? { fieldPath } : {}) });
  return [
    ['Namespace', namespace('kube-system', CLUSTER_UID)],
    ['Namespace', namespace('default', '11111111-0000-4000-8000-000000000000')],
    [
      'Namespace',
      namespace('shop', UID.shop, {
        labels: { team: 'payments', 'kubernetes.io/metadata.name': 'shop' },
        annotations: { 'metadata.dynatrace.com/dt.cost.costcenter': 'CC-42', 'metadata.dynatrace.com/dt.cost.product': 'webshop' },
      }),
    ],
    ['Namespace', namespace('monitoring', '11111111-0000-4000-8000-000000000002')],
    ['Node', node('node-a', UID.nodeA)],
    ['Node', node('node-b', UID.nodeB)],
    [
      'Deployment',
      {
        metadata: meta('checkout', 'shop', UID.checkout, { generation: 4, labels: { app: 'checkout' } }),
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'checkout' } },
          template: { metadata: { labels: { app: 'checkout' } }, spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1.4.2' }] } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
          revisionHistoryLimit: 10,
          progressDeadlineSeconds: 600,
        },
        status: {
          observedGeneration: 4,
          replicas: 3,
          updatedReplicas: 3,
          readyReplicas: 1,
          availableReplicas: 1,
          unavailableReplicas: 2,
          conditions: [{ type: 'Available', status: 'False', lastUpdateTime: T0, lastTransitionTime: T0, reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }],
        },
      },
    ],
    [
      'ReplicaSet',
      {
        metadata: meta('checkout-7d9f8b6c5d', 'shop', UID.checkoutRs, { labels: checkoutLabels, ownerReferences: owner('apps/v1', 'Deployment', 'checkout', UID.checkout) }),
        spec: { replicas: 3, selector: { matchLabels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' } }, template: { metadata: { labels: checkoutLabels }, spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1.4.2' }] } } },
        status: { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 },
      },
    ],
    ['Pod', pod({ name: 'checkout-7d9f8b6c5d-aaaaa', namespace: 'shop', uid: UID.podRunning, node: 'node-a', owner: rs, labels: checkoutLabels, phase: 'Running', ready: true, containers: [{ name: 'app', image: 'registry.example.com/shop/app:1.4.2', ...APP_RESOURCES, status: running() }] })],
    ['Pod', pod({ name: 'checkout-7d9f8b6c5d-bbbbb', namespace: 'shop', uid: UID.podCrashing, node: 'node-a', owner: rs, labels: checkoutLabels, phase: 'Running', containers: [{ name: 'app', image: 'registry.example.com/shop/app:1.4.2', ...APP_RESOURCES, status: crashLoop(7) }] })],
    ['Pod', pod({ name: 'checkout-7d9f8b6c5d-ccccc', namespace: 'shop', uid: UID.podPending, owner: rs, labels: checkoutLabels, phase: 'Pending', containers: [{ name: 'app', image: 'registry.example.com/shop/app:1.4.2', ...APP_RESOURCES }] })],
    [
      'StatefulSet',
      {
        metadata: meta('web', 'shop', UID.web),
        spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, serviceName: 'web', template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.example.com/shop/web:2.0-typo' }] } } },
        status: { replicas: 1, readyReplicas: 0, currentReplicas: 1, updatedReplicas: 1, availableReplicas: 0, observedGeneration: 2, currentRevision: 'web-6b7c8d9e0f', updateRevision: 'web-6b7c8d9e0f' },
      },
    ],
    ['Pod', pod({ name: 'web-0', namespace: 'shop', uid: UID.web0, node: 'node-b', owner: owner('apps/v1', 'StatefulSet', 'web', UID.web), labels: { app: 'web' }, phase: 'Pending', containers: [{ name: 'web', image: 'registry.example.com/shop/web:2.0-typo', status: imagePull() }], claims: ['data-web-0'] })],
    [
      'PersistentVolumeClaim',
      {
        metadata: meta('data-web-0', 'shop', UID.pvc, { labels: { app: 'web' } }),
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'gold', volumeMode: 'Filesystem', volumeName: 'pvc-55555555' },
        status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '10Gi' } },
      },
    ],
    [
      'DaemonSet',
      {
        metadata: meta('fluent-bit', 'monitoring', UID.fluentBit),
        spec: { selector: { matchLabels: { app: 'fluent-bit' } }, template: { metadata: { labels: { app: 'fluent-bit' } }, spec: { containers: [{ name: 'fluent-bit', image: 'fluent/fluent-bit:3.1' }] } } },
        status: { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 1, observedGeneration: 1, updatedNumberScheduled: 2, numberAvailable: 1, numberUnavailable: 1 },
      },
    ],
    ['Pod', pod({ name: 'fluent-bit-x7k2p', namespace: 'monitoring', uid: UID.fluentBitPod, node: 'node-a', owner: owner('apps/v1', 'DaemonSet', 'fluent-bit', UID.fluentBit), labels: { app: 'fluent-bit' }, phase: 'Running', ready: true, containers: [{ name: 'fluent-bit', image: 'fluent/fluent-bit:3.1', requests: { cpu: '100m', memory: '64Mi' }, status: running(1) }] })],
    [
      'CronJob',
      {
        metadata: meta('report', 'shop', UID.report),
        spec: { schedule: '0 * * * *', concurrencyPolicy: 'Forbid', suspend: false, jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'report', image: 'busybox:1.36' }] } } } } },
        status: { lastScheduleTime: T0, lastSuccessfulTime: '2026-12-01T08:01:00Z' },
      },
    ],
    [
      'Job',
      {
        metadata: meta('report-28930560', 'shop', UID.reportJob, { ownerReferences: owner('batch/v1', 'CronJob', 'report', UID.report) }),
        spec: { parallelism: 1, completions: 1, backoffLimit: 6, completionMode: 'NonIndexed', suspend: false, template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'report', image: 'busybox:1.36' }] } } },
        status: { startTime: T0, completionTime: '2026-12-01T08:01:00Z', succeeded: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {}, conditions: [{ type: 'Complete', status: 'True', lastProbeTime: T0, lastTransitionTime: T0 }] },
      },
    ],
    ['Pod', pod({ name: 'report-28930560-q9r8s', namespace: 'shop', uid: UID.reportPod, node: 'node-b', owner: owner('batch/v1', 'Job', 'report-28930560', UID.reportJob), labels: { 'batch.kubernetes.io/job-name': 'report-28930560' }, phase: 'Succeeded', containers: [{ name: 'report', image: 'busybox:1.36', status: completed() }] })],
    [
      'HorizontalPodAutoscaler',
      {
        metadata: meta('checkout', 'shop', UID.hpa),
        spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout' }, minReplicas: 2, maxReplicas: 10, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
        status: { currentReplicas: 3, desiredReplicas: 4, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 93, averageValue: '233m' } } }], conditions: [{ type: 'AbleToScale', status: 'True', lastTransitionTime: T0, reason: 'SucceededRescale', message: 'the HPA controller was able to update the target scale to 4' }] },
      },
    ],
    [
      'ResourceQuota',
      {
        metadata: meta('compute', 'shop', UID.quota),
        spec: { hard: { 'requests.cpu': '4', 'requests.memory': '8Gi', 'limits.cpu': '8', 'limits.memory': '16Gi', pods: '20', 'count/deployments.apps': '10', 'gold.storageclass.storage.k8s.io/requests.storage': '100Gi', 'requests.nvidia.com/gpu': '2' } },
        status: {
          hard: { 'requests.cpu': '4', 'requests.memory': '8Gi', 'limits.cpu': '8', 'limits.memory': '16Gi', pods: '20', 'count/deployments.apps': '10', 'gold.storageclass.storage.k8s.io/requests.storage': '100Gi', 'requests.nvidia.com/gpu': '2' },
          used: { 'requests.cpu': '750m', 'requests.memory': '384Mi', 'limits.cpu': '3', 'limits.memory': '768Mi', pods: '5', 'count/deployments.apps': '1', 'gold.storageclass.storage.k8s.io/requests.storage': '10Gi', 'requests.nvidia.com/gpu': '0' },
        },
      },
    ],
    [
      'Service',
      {
        metadata: meta('checkout', 'shop', UID.service),
        spec: { type: 'ClusterIP', selector: { app: 'checkout' }, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], clusterIP: '10.96.12.34', clusterIPs: ['10.96.12.34'], sessionAffinity: 'None', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster' },
        status: { loadBalancer: {} },
      },
    ],
    [
      'Event',
      event({
        name: 'checkout-7d9f8b6c5d-ccccc.1813f2a4b5c6d7e8',
        namespace: 'shop',
        uid: UID.evScheduling,
        type: 'Warning',
        reason: 'FailedScheduling',
        action: 'Scheduling',
        note: '0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
        regarding: podRef('checkout-7d9f8b6c5d-ccccc', UID.podPending),
        controller: 'default-scheduler',
        instance: 'default-scheduler-control-plane',
        count: 3,
      }),
    ],
    [
      'Event',
      event({
        name: 'checkout-7d9f8b6c5d-bbbbb.1813f2a4b5c6d7f0',
        namespace: 'shop',
        uid: UID.evBackOff,
        type: 'Warning',
        reason: 'BackOff',
        note: 'Back-off restarting failed container app in pod checkout-7d9f8b6c5d-bbbbb_shop(44444444-0000-4000-8000-000000000002)',
        regarding: podRef('checkout-7d9f8b6c5d-bbbbb', UID.podCrashing, 'spec.containers{app}'),
        controller: 'kubelet',
        instance: 'node-a',
        count: 12,
      }),
    ],
    [
      'Event',
      event({
        name: 'web-0.1813f2a4b5c6d801',
        namespace: 'shop',
        uid: UID.evPull,
        type: 'Warning',
        reason: 'Failed',
        action: 'Pulling',
        note: 'Error: ImagePullBackOff',
        regarding: podRef('web-0', UID.web0, 'spec.containers{web}'),
        controller: 'kubelet',
        instance: 'node-b',
      }),
    ],
    [
      'Event',
      event({
        name: 'checkout.1813f2a4b5c6d812',
        namespace: 'shop',
        uid: UID.evScaling,
        type: 'Normal',
        reason: 'ScalingReplicaSet',
        note: 'Scaled up replica set checkout-7d9f8b6c5d to 3 from 1',
        regarding: { kind: 'Deployment', namespace: 'shop', name: 'checkout', uid: UID.checkout, apiVersion: 'apps/v1', resourceVersion: '1090' },
        controller: 'deployment-controller',
        instance: '',
      }),
    ],
    [
      'Event',
      {
        // Written through core/v1 by an older kubelet: events.k8s.io serves it with deprecated* fields.
        metadata: meta('node-a.1813f2a4b5c6d823', 'default', UID.evNodeOld),
        eventTime: null,
        reason: 'NodeHasSufficientMemory',
        regarding: { kind: 'Node', name: 'node-a', uid: 'node-a', apiVersion: 'v1' },
        note: 'Node node-a status is now: NodeHasSufficientMemory',
        type: 'Normal',
        deprecatedSource: { component: 'kubelet', host: 'node-a' },
        deprecatedFirstTimestamp: '2026-12-01T07:58:00Z',
        deprecatedLastTimestamp: '2026-12-01T07:59:00Z',
        deprecatedCount: 2,
      },
    ],
  ];
}

/** Fills a stand-in with the demo cluster. */
export function load(cluster: { put(kind: string, o: Obj): Obj }, objects = demoCluster()): void {
  for (const [kind, o] of objects) cluster.put(kind, o);
}
