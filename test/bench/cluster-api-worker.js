// The Kubernetes API stand-in for `npm run bench -- cluster`, in a worker thread so the generated
// cluster (5,000 pods as the API serializes them) lives in another V8 heap than the monitor whose
// heap is measured. Loopback HTTPS; lists in pages (limit/continue), watches held open and fed on
// command, a Lease API with resourceVersion checks. The same shapes as the unit tests' stand-in
// (test/unit/gateway/cluster/stand-in-cluster.ts), cut to what the bench uses.
import { createServer } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

const { key, cert, nodes: NODES, pods: PODS, events: EVENTS } = workerData;
let rv = 10_000;
const uid = (kind, n) => `${kind.padEnd(8, '0').slice(0, 8)}-0000-4000-8000-${String(n).padStart(12, '0')}`;
const T0 = '2026-12-01T08:00:00Z';

const collections = new Map(
  Object.entries({
    '/api/v1/namespaces': ['Namespace', 'v1'],
    '/api/v1/nodes': ['Node', 'v1'],
    '/api/v1/pods': ['Pod', 'v1'],
    '/api/v1/services': ['Service', 'v1'],
    '/api/v1/persistentvolumeclaims': ['PersistentVolumeClaim', 'v1'],
    '/api/v1/resourcequotas': ['ResourceQuota', 'v1'],
    '/apis/apps/v1/deployments': ['Deployment', 'apps/v1'],
    '/apis/apps/v1/replicasets': ['ReplicaSet', 'apps/v1'],
    '/apis/apps/v1/statefulsets': ['StatefulSet', 'apps/v1'],
    '/apis/apps/v1/daemonsets': ['DaemonSet', 'apps/v1'],
    '/apis/batch/v1/jobs': ['Job', 'batch/v1'],
    '/apis/batch/v1/cronjobs': ['CronJob', 'batch/v1'],
    '/apis/autoscaling/v2/horizontalpodautoscalers': ['HorizontalPodAutoscaler', 'autoscaling/v2'],
    '/apis/events.k8s.io/v1/events': ['Event', 'events.k8s.io/v1'],
  }).map(([path, [kind, apiVersion]]) => [path, { kind, apiVersion, items: [], watchers: new Set() }]),
);
const byKind = new Map([...collections.values()].map((c) => [c.kind, c]));

function add(kind, o) {
  o.metadata.resourceVersion = String(++rv);
  o.metadata.creationTimestamp ??= T0;
  byKind.get(kind).items.push(o);
  return o;
}

const managedFields = [
  { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: T0, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} }, 'f:ownerReferences': { '.': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:resources': {} } } } } },
  { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: T0, fieldsType: 'FieldsV1', subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:startTime': {} } } },
];

function podOf(n, ns, name, owner, labels, node, claim) {
  const ready = n % 50 !== 0;
  const status = ready
    ? { ready: true, restartCount: n % 7, started: true, containerID: `containerd://${n.toString(16).padStart(64, 'a')}`, state: { running: { startedAt: T0 } }, lastState: {} }
    : { ready: false, restartCount: 12, started: false, containerID: `containerd://${n.toString(16).padStart(64, 'b')}`, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T0, finishedAt: T0 } } };
  return {
    metadata: { name, namespace: ns, uid: uid('pod', n), generateName: `${name.slice(0, name.lastIndexOf('-'))}-`, labels, annotations: { 'kubectl.kubernetes.io/restartedAt': T0, 'prometheus.io/scrape': 'true' }, ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: true }], managedFields },
    spec: {
      volumes: [...(claim ? [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] : []), { name: 'config', configMap: { name: 'app-config', defaultMode: 420 } }, { name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }], defaultMode: 420 } }],
      containers: [
        {
          name: 'app',
          image: `registry.example.com/${ns}/${labels.app}:1.${n % 5}.0`,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
            { name: 'OTEL_SERVICE_NAME', value: labels.app },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          volumeMounts: [{ name: 'config', mountPath: '/etc/app' }, { name: 'kube-api-access', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
          livenessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          readinessProbe: { httpGet: { path: '/readyz', port: 8080, scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      nodeName: node,
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: type === 'Ready' || type === 'ContainersReady' ? (ready ? 'True' : 'False') : 'True', lastProbeTime: null, lastTransitionTime: T0 })),
      hostIP: '10.0.0.1',
      podIP: `10.244.${n >> 8}.${n & 255}`,
      podIPs: [{ ip: `10.244.${n >> 8}.${n & 255}` }],
      startTime: T0,
      containerStatuses: [{ name: 'app', image: `registry.example.com/${ns}/${labels.app}:1.${n % 5}.0`, imageID: `registry.example.com/${ns}/${labels.app}@sha256:${'c'.repeat(64)}`, ...status }],
      qosClass: 'Burstable',
    },
  };
}

// ------------------------------------------------------------------ the cluster
const NAMESPACES = 20;
add('Namespace', { metadata: { name: 'kube-system', uid: uid('ns', 9999) }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
for (let i = 0; i < NAMESPACES; i++) add('Namespace', { metadata: { name: `team-${i}`, uid: uid('ns', i), labels: { team: `t${i}` }, annotations: { 'metadata.dynatrace.com/dt.cost.costcenter': `CC-${i}` } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
for (let i = 0; i < NODES; i++) {
  add('Node', {
    metadata: { name: `node-${i}`, uid: uid('node', i), labels: { 'kubernetes.io/hostname': `node-${i}`, 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    spec: { podCIDR: `10.244.${i}.0/24` },
    status: {
      capacity: { cpu: '16', memory: '65842148Ki', 'ephemeral-storage': '102626232Ki', pods: '110' },
      allocatable: { cpu: '15800m', memory: '63Gi', 'ephemeral-storage': '94580335255', pods: '110' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({ type, status: type === 'Ready' ? 'True' : 'False', lastHeartbeatTime: T0, lastTransitionTime: T0, reason: 'KubeletReady', message: 'ok' })),
      nodeInfo: { kubeletVersion: 'v1.35.0', containerRuntimeVersion: 'containerd://1.7.13', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', operatingSystem: 'linux', architecture: 'amd64', machineID: 'm', systemUUID: 's', bootID: 'b', kubeProxyVersion: 'v1.35.0' },
    },
  });
}
// 5 DaemonSets × every node; StatefulSets of 10 with a claim each; the rest Deployments of 8.
let pod = 0;
const podsOnly = PODS;
for (let d = 0; d < 5 && pod < podsOnly; d++) {
  const name = `agent-${d}`;
  const ds = add('DaemonSet', { metadata: { name, namespace: 'team-0', uid: uid('ds', d) }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'x' }] } } }, status: { currentNumberScheduled: NODES, numberMisscheduled: 0, desiredNumberScheduled: NODES, numberReady: NODES - 1 } });
  for (let n = 0; n < NODES && pod < podsOnly; n++, pod++) add('Pod', podOf(pod, 'team-0', `${name}-${n.toString(36).padStart(5, 'x')}`, { apiVersion: 'apps/v1', kind: 'DaemonSet', name, uid: ds.metadata.uid }, { app: name }, `node-${n}`));
}
for (let s = 0; s < 50 && pod < podsOnly; s++) {
  const ns = `team-${s % NAMESPACES}`;
  const name = `db-${s}`;
  const st = add('StatefulSet', { metadata: { name, namespace: ns, uid: uid('sts', s) }, spec: { replicas: 10, serviceName: name, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'x' }] } } }, status: { replicas: 10, readyReplicas: 10, currentReplicas: 10, updatedReplicas: 10 } });
  for (let r = 0; r < 10 && pod < podsOnly; r++, pod++) {
    const claim = `data-${name}-${r}`;
    add('PersistentVolumeClaim', { metadata: { name: claim, namespace: ns, uid: uid('pvc', pod) }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } }, storageClassName: 'gold', volumeName: `pv-${pod}` }, status: { phase: 'Bound', capacity: { storage: '20Gi' } } });
    add('Pod', podOf(pod, ns, `${name}-${r}`, { apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: st.metadata.uid }, { app: name }, `node-${pod % NODES}`, claim));
  }
  add('Service', { metadata: { name, namespace: ns, uid: uid('svc', s + 10_000) }, spec: { type: 'ClusterIP', clusterIP: 'None', selector: { app: name }, ports: [{ port: 5432 }] } });
}
for (let d = 0; pod < podsOnly; d++) {
  const ns = `team-${d % NAMESPACES}`;
  const name = `svc-${d}`;
  const hash = (0x5f6d7c8b9a + d).toString(16).slice(0, 10);
  const dep = add('Deployment', { metadata: { name, namespace: ns, uid: uid('dep', d), labels: { app: name } }, spec: { replicas: 8, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'x' }] } } }, status: { replicas: 8, updatedReplicas: 8, readyReplicas: 8, availableReplicas: 8 } });
  const rsName = `${name}-${hash}`;
  const rs = add('ReplicaSet', { metadata: { name: rsName, namespace: ns, uid: uid('rs', d), labels: { app: name, 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }] }, spec: { replicas: 8, selector: { matchLabels: { app: name } } }, status: { replicas: 8, readyReplicas: 8, availableReplicas: 8 } });
  // An old ReplicaSet scaled to 0, as every Deployment keeps a few.
  add('ReplicaSet', { metadata: { name: `${name}-old${d}`, namespace: ns, uid: uid('rsold', d), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: dep.metadata.uid, controller: true }] }, spec: { replicas: 0, selector: { matchLabels: { app: name } } }, status: { replicas: 0 } });
  for (let r = 0; r < 8 && pod < podsOnly; r++, pod++) add('Pod', podOf(pod, ns, `${rsName}-${r.toString(36).padStart(5, 'q')}`, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rs.metadata.uid }, { app: name, 'pod-template-hash': hash, 'app.kubernetes.io/name': name }, `node-${pod % NODES}`));
  add('Service', { metadata: { name, namespace: ns, uid: uid('svc', d) }, spec: { type: 'ClusterIP', selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } });
  if (d % 5 === 0) add('HorizontalPodAutoscaler', { metadata: { name, namespace: ns, uid: uid('hpa', d) }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, minReplicas: 2, maxReplicas: 20 }, status: { currentReplicas: 8, desiredReplicas: 8 } });
}
for (let i = 0; i < NAMESPACES; i++) {
  add('ResourceQuota', { metadata: { name: 'compute', namespace: `team-${i}`, uid: uid('quota', i) }, spec: {}, status: { hard: { 'requests.cpu': '100', 'requests.memory': '200Gi', 'limits.cpu': '200', 'limits.memory': '400Gi', pods: '500' }, used: { 'requests.cpu': '25', 'requests.memory': '32Gi', 'limits.cpu': '125', 'limits.memory': '64Gi', pods: '250' } } });
  add('CronJob', { metadata: { name: 'report', namespace: `team-${i}`, uid: uid('cron', i) }, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: { spec: { containers: [] } } } } }, status: {} });
  add('Job', { metadata: { name: 'report-28930560', namespace: `team-${i}`, uid: uid('job', i), ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: uid('cron', i), controller: true }] }, spec: { completions: 1, parallelism: 1, template: { spec: { containers: [] } } }, status: { succeeded: 1 } });
}
const pods = byKind.get('Pod').items;
const REASONS = [
  ['Normal', 'Scheduled', 'Successfully assigned pod to node', 'default-scheduler'],
  ['Normal', 'Pulling', 'Pulling image', 'kubelet'],
  ['Normal', 'Pulled', 'Successfully pulled image in 1.2s (1.2s including waiting)', 'kubelet'],
  ['Normal', 'Created', 'Created container app', 'kubelet'],
  ['Warning', 'BackOff', 'Back-off restarting failed container app', 'kubelet'],
];
function eventOf(n) {
  const p = pods[n % pods.length];
  const [type, reason, note, controller] = REASONS[n % REASONS.length];
  return {
    metadata: { name: `${p.metadata.name}.${(0x1813f2a4b5c6d7e8n + BigInt(n)).toString(16)}`, namespace: p.metadata.namespace, uid: uid('event', n) },
    eventTime: '2026-12-01T08:00:00.000000Z',
    ...(reason === 'BackOff' ? { series: { count: 5 + (n % 20), lastObservedTime: '2026-12-01T08:09:30.000000Z' } } : {}),
    reportingController: controller,
    reportingInstance: controller === 'kubelet' ? p.spec.nodeName : 'default-scheduler-0',
    action: reason,
    reason,
    regarding: { kind: 'Pod', namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid, apiVersion: 'v1', resourceVersion: p.metadata.resourceVersion, fieldPath: 'spec.containers{app}' },
    note: `${note} ${p.metadata.name}`,
    type,
  };
}
for (let i = 0; i < EVENTS; i++) add('Event', eventOf(i));
for (const c of collections.values()) c.items.sort((a, b) => ((a.metadata.namespace ?? '') + a.metadata.name < (b.metadata.namespace ?? '') + b.metadata.name ? -1 : 1));

// ------------------------------------------------------------------ the API
const leases = new Map();
function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
function send(c, type, object) {
  const line = `${JSON.stringify({ type, object: { kind: c.kind, apiVersion: c.apiVersion, ...object } })}\n`;
  for (const w of c.watchers) w.write(line);
}
const server = createServer({ key, cert }, (req, res) => {
  const u = new URL(req.url, 'https://127.0.0.1');
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(u.pathname);
    if (lease) {
      const key = `${lease[1]}/${lease[2] ?? ''}`;
      if (req.method === 'GET') return leases.has(key) ? json(res, 200, leases.get(key)) : json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
      const body = JSON.parse(Buffer.concat(chunks).toString());
      const k = `${lease[1]}/${lease[2] ?? body.metadata.name}`;
      const cur = leases.get(k);
      if (req.method === 'POST' && cur) return json(res, 409, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'AlreadyExists', code: 409 });
      if (req.method === 'PUT' && cur?.metadata.resourceVersion !== body.metadata.resourceVersion) return json(res, 409, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Conflict', code: 409 });
      body.metadata.resourceVersion = String(++rv);
      leases.set(k, body);
      return json(res, req.method === 'POST' ? 201 : 200, body);
    }
    const c = collections.get(u.pathname);
    if (!c) return json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    if (u.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      c.watchers.add(res);
      res.on('close', () => c.watchers.delete(res));
      return;
    }
    const limit = Number(u.searchParams.get('limit') ?? 0) || c.items.length;
    const start = u.searchParams.get('continue') ? Number(Buffer.from(u.searchParams.get('continue'), 'base64url').toString()) : 0;
    const end = Math.min(c.items.length, start + limit);
    const metadata = { resourceVersion: String(rv) };
    if (end < c.items.length) {
      metadata.continue = Buffer.from(String(end)).toString('base64url');
      metadata.remainingItemCount = c.items.length - end;
    }
    json(res, 200, { kind: `${c.kind}List`, apiVersion: c.apiVersion, metadata, items: c.items.slice(start, end) });
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port, counts: Object.fromEntries([...byKind].map(([k, c]) => [k, c.items.length])) }));

parentPort.on('message', (m) => {
  if (m.cmd === 'modify-pods') {
    // Status updates, as the kubelet writes them: a restart count moves.
    const c = byKind.get('Pod');
    for (let i = 0; i < m.n; i++) {
      const p = c.items[i % c.items.length];
      p.status.containerStatuses[0].restartCount++;
      p.metadata.resourceVersion = String(++rv);
      send(c, 'MODIFIED', p);
    }
  } else if (m.cmd === 'add-events') {
    const c = byKind.get('Event');
    for (let i = 0; i < m.n; i++) {
      const e = eventOf(EVENTS + m.from + i);
      e.metadata.resourceVersion = String(++rv);
      e.metadata.creationTimestamp = T0;
      send(c, 'ADDED', e);
    }
  } else if (m.cmd === 'sample-lines') {
    // The same watch lines the monitor gets, for the JSON.parse baseline.
    const c = byKind.get('Pod');
    const lines = [];
    for (let i = 0; i < m.n; i++) lines.push(JSON.stringify({ type: 'MODIFIED', object: { kind: 'Pod', apiVersion: 'v1', ...c.items[i % c.items.length] } }));
    parentPort.postMessage({ lines });
  } else if (m.cmd === 'close') {
    for (const c of collections.values()) for (const w of c.watchers) w.end();
    server.close(() => parentPort.close());
  }
});
