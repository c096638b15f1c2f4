import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { CONFIG_FILE_ENV, KEYS_BY_ENV } from '../../../src/config/schema.js';
import { MODES } from '../../../src/config/modes.js';
import { LEASE_NAME } from '../../../src/gateway/cluster/cluster-monitor.js';
import { KINDS } from '../../../src/gateway/cluster/kinds/index.js';
import { containersOf, podSpecOf, renderKustomization, sortObjects, type K8sObject } from '../../helpers/kustomize.js';
import { checkPolicy, readDocumentedPrivileges, STATE_DIR } from '../../helpers/kustomize-policy.js';
import { findKubectl, kubectlKustomize, validateObject } from '../../helpers/kustomize-validate.js';
import { presentOrSkip } from '../../helpers/ci-gate.js';

// Every kustomization under deploy/kubernetes/ rendered offline (test/helpers/kustomize.ts),
// cross-checked against `kubectl kustomize` where a kubectl exists, validated against the
// Kubernetes API schemas (kubernetes-models), and held to the security properties that
// test/helpers/kustomize-policy.ts checks (the documented lists in docs/security.md).

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const kube = path.join(repo, 'deploy/kubernetes');
const OVERLAYS = ['fullstack', 'host', 'application', 'cloudnative', 'minikube'] as const;
const DIRS: Record<string, string> = { base: path.join(kube, 'base') };
for (const o of OVERLAYS) DIRS[o] = path.join(kube, 'overlays', o);

const rendered = new Map<string, K8sObject[]>(Object.entries(DIRS).map(([name, dir]) => [name, renderKustomization(dir)]));
const docs = readDocumentedPrivileges(path.join(repo, 'docs/security.md'));
const kubectl = findKubectl();
const haveKubectl = presentOrSkip(kubectl !== undefined, 'kubectl', 'put a kubectl with its built-in kustomize on PATH');

const tmp = mkdtempSync(path.join(tmpdir(), 'sextant-deploy-'));
const tokenFile = path.join(tmp, 'token');
writeFileSync(tokenFile, 'test-token-not-real\n');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Obj = Record<string, any>;

function find(objects: K8sObject[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind}/${name}`);
  return o as Obj;
}

/** The environment a container starts with: its envFrom ConfigMaps, then its env values. */
function containerEnv(objects: K8sObject[], container: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of (container['envFrom'] ?? []) as Obj[]) {
    const cm = find(objects, 'ConfigMap', from['configMapRef'].name);
    Object.assign(env, cm['data']);
  }
  for (const e of (container['env'] ?? []) as Obj[]) env[e['name']] = e['value'] ?? `<${Object.keys(e['valueFrom'] ?? {}).join()}>`;
  return env;
}

function mainContainer(objects: K8sObject[], kind: string, name: string): { pod: Obj; container: Obj; env: Record<string, string> } {
  const o = find(objects, kind, name) as K8sObject;
  const pod = podSpecOf(o) as Obj;
  const container = (pod['containers'] as Obj[])[0]!;
  return { pod, container, env: containerEnv(objects, container) };
}

/** The effective config the agent/gateway would load from that environment (real parser). */
function effectiveConfig(env: Record<string, string>, command: 'agent' | 'gateway') {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    // Token files are mounted from a Secret in the cluster; here a temp file stands in.
    if (k.endsWith('_TOKEN_FILE') || k.endsWith('_TOKENS_FILE')) e[k] = tokenFile;
    else if (k === 'SEXTANT_NODE_NAME') e[k] = 'node-1';
    // The downward API's metadata.namespace: the namespace every object here is in.
    else if (k === 'SEXTANT_WEBHOOK_NAMESPACE') e[k] = 'sextant';
    else e[k] = v;
  }
  return loadConfig({ env: e, allowLocal: command === 'agent', cwd: tmp }).config;
}

/**
 * Every verb granted to the gateway's service account by any binding, as `group/resource verb
 * [names]`, cluster-wide and in namespaces apart; checks that RoleBindings stay in the gateway's
 * namespace and name no one else.
 */
function gatewayGrants(objects: K8sObject[]): { cluster: string[]; namespaced: string[] } {
  const gateway = { kind: 'ServiceAccount', name: 'sextant-gateway', namespace: 'sextant' };
  const bindings = objects.filter(
    (o) => (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') && ((o as Obj)['subjects'] as Obj[]).some((x) => x['kind'] === gateway.kind && x['name'] === gateway.name && x['namespace'] === gateway.namespace),
  );
  const cluster: string[] = [];
  const namespaced: string[] = [];
  for (const b of bindings as Obj[]) {
    expect(b['subjects']).toEqual([gateway]);
    const role = find(objects, b['roleRef'].kind, b['roleRef'].name);
    const into = b['kind'] === 'ClusterRoleBinding' ? cluster : namespaced;
    if (b['kind'] === 'RoleBinding') {
      expect(b['metadata'].namespace).toBe('sextant');
      expect(role['kind']).toBe('Role');
      expect(role['metadata'].namespace).toBe('sextant');
    }
    for (const rule of role['rules'] as Obj[]) {
      for (const g of rule['apiGroups'] as string[]) {
        for (const r of rule['resources'] as string[]) {
          for (const v of rule['verbs'] as string[]) into.push(`${g}/${r} ${v}${rule['resourceNames'] ? ` ${(rule['resourceNames'] as string[]).join(',')}` : ''}`);
        }
      }
    }
  }
  return { cluster: cluster.sort(), namespaced: namespaced.sort() };
}

describe.each([...rendered.keys()])('deploy/kubernetes %s', (name) => {
  const objects = rendered.get(name)!;

  it.skipIf(!haveKubectl)('renders the same objects as kubectl kustomize', () => {
    const real = kubectlKustomize(kubectl!, DIRS[name]!);
    expect(sortObjects(objects)).toEqual(sortObjects(real));
  });

  it('validates against the Kubernetes API schemas', async () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) await validateObject(o);
  });

  it('has the security properties docs/security.md documents (kustomize-policy)', () => {
    expect(checkPolicy(objects, docs)).toEqual([]);
  });

  it('contains no Secret (only a reference to the token Secret)', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const o of objects) {
      for (const v of ((podSpecOf(o) as Obj | undefined)?.['volumes'] ?? []) as Obj[]) {
        if (v['secret'] !== undefined) expect(v['secret'].secretName).toBe('sextant-token');
      }
    }
  });

  it('sets only SEXTANT_* variables the config schema knows, with values it accepts', () => {
    for (const o of objects) {
      for (const c of containersOf(o) as Obj[]) {
        const env = containerEnv(objects, c);
        for (const key of Object.keys(env).filter((k) => k.startsWith('SEXTANT_'))) {
          expect(KEYS_BY_ENV.has(key) || key === CONFIG_FILE_ENV, `${o.metadata.name}/${c['name']}: ${key}`).toBe(true);
        }
      }
    }
    const agent = mainContainer(objects, 'DaemonSet', 'sextant-agent');
    const gateway = mainContainer(objects, 'Deployment', 'sextant-gateway');
    expect(() => effectiveConfig(agent.env, 'agent')).not.toThrow();
    expect(() => effectiveConfig(gateway.env, 'gateway')).not.toThrow();
  });

  it('gives each pod a grace period longer than its flush deadline', () => {
    for (const [kind, n, cmd] of [['DaemonSet', 'sextant-agent', 'agent'], ['Deployment', 'sextant-gateway', 'gateway']] as const) {
      const { pod, env } = mainContainer(objects, kind, n);
      const config = effectiveConfig(env, cmd);
      expect(pod['terminationGracePeriodSeconds'] * 1000, `${n}`).toBeGreaterThan(config.shutdownTimeout);
    }
  });

  it('wires the agent: node name from the downward API, state dir on the writable hostPath, probes on its listen port', () => {
    const { pod, container, env } = mainContainer(objects, 'DaemonSet', 'sextant-agent');
    const nodeName = (container['env'] as Obj[]).find((e) => e['name'] === 'SEXTANT_NODE_NAME');
    expect(nodeName?.['valueFrom']).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    expect(env['SEXTANT_STATE_DIR']).toBe(STATE_DIR);
    const stateMount = (container['volumeMounts'] as Obj[]).find((m) => m['mountPath'] === STATE_DIR);
    const stateVolume = (pod['volumes'] as Obj[]).find((v) => v['name'] === stateMount?.['name']);
    expect(stateVolume?.['hostPath']?.path).toBe(STATE_DIR);
    const port = (container['ports'] as Obj[]).find((p) => p['name'] === 'self');
    expect(env['SEXTANT_LISTEN']).toBe(`0.0.0.0:${port?.['containerPort']}`);
    // Every host mount is under the configured host root.
    for (const m of container['volumeMounts'] as Obj[]) {
      const v = (pod['volumes'] as Obj[]).find((x) => x['name'] === m['name']);
      if (v?.['hostPath'] !== undefined && m['mountPath'] !== STATE_DIR) expect(m['mountPath']).toBe(path.join(env['SEXTANT_HOST_ROOT']!, v['hostPath'].path));
    }
  });

  it('grants the agent read-only Kubernetes API access to what owner resolution needs', () => {
    const role = find(objects, 'ClusterRole', 'sextant-agent');
    const granted = new Set<string>();
    for (const rule of role['rules'] as Obj[]) {
      expect(rule['verbs']).toEqual(['get', 'list', 'watch']);
      expect(rule['resourceNames']).toBeUndefined();
      for (const g of rule['apiGroups'] as string[]) for (const r of rule['resources'] as string[]) granted.add(`${g}/${r}`);
    }
    expect([...granted].sort()).toEqual(['/namespaces', '/nodes', '/pods', 'apps/replicasets', 'batch/jobs']);
    const binding = find(objects, 'ClusterRoleBinding', 'sextant-agent');
    expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'sextant-agent', namespace: 'sextant' }]);
  });

  it('grants the gateway get/list/watch on exactly the kinds the cluster monitor reports, and get/create/update on its one Lease in its own namespace', () => {
    const { cluster, namespaced } = gatewayGrants(objects);
    const read = (gr: string): string[] => ['get', 'list', 'watch'].map((v) => `${gr} ${v}`);
    // The monitored kinds, as the monitor's own table lists them (src/gateway/cluster/kinds/), and the events.
    const kinds = KINDS.map((k) => `${k.apiVersion.includes('/') ? k.apiVersion.split('/')[0] : ''}/${k.resource}`).concat(['events.k8s.io/events']);
    expect(cluster).toEqual(kinds.flatMap(read).sort());
    const lease = `coordination.k8s.io/leases`;
    expect(namespaced).toEqual([`${lease} create`, `${lease} get ${LEASE_NAME}`, `${lease} update ${LEASE_NAME}`]);
    // The token is mounted (projected, rotating), and the Lease's namespace is the pod's own.
    expect(find(objects, 'ServiceAccount', 'sextant-gateway')['automountServiceAccountToken']).not.toBe(false);
    const { pod, env } = mainContainer(objects, 'Deployment', 'sextant-gateway');
    expect(pod['automountServiceAccountToken']).not.toBe(false);
    expect(pod['serviceAccountName']).toBe('sextant-gateway');
    expect(effectiveConfig(env, 'gateway').cluster.leaseNamespace).toBe('');
    expect(find(objects, 'Deployment', 'sextant-gateway')['metadata'].namespace).toBe('sextant');
  });
});

describe('overlays', () => {
  it('set the mode each is named for (minikube: fullstack)', () => {
    for (const mode of MODES) expect(find(rendered.get(mode)!, 'ConfigMap', 'sextant-agent')['data'].SEXTANT_MODE).toBe(mode);
    expect(find(rendered.get('minikube')!, 'ConfigMap', 'sextant-agent')['data'].SEXTANT_MODE).toBe('fullstack');
  });

  it('host mounts no logs or runtime sockets; application mounts nothing of the host and adds no capability', () => {
    const hostPaths = (name: string) =>
      ((podSpecOf(find(rendered.get(name)!, 'DaemonSet', 'sextant-agent') as K8sObject) as Obj)['volumes'] as Obj[]).filter((v) => v['hostPath']).map((v) => v['hostPath'].path);
    expect(hostPaths('host').sort()).toEqual(['/etc/hostname', '/etc/machine-id', '/etc/os-release', '/etc/passwd', '/proc', '/sys', STATE_DIR].sort());
    expect(hostPaths('application')).toEqual([STATE_DIR]);
    const app = mainContainer(rendered.get('application')!, 'DaemonSet', 'sextant-agent');
    expect(app.pod['hostPID']).toBe(false);
    expect(app.container['securityContext'].capabilities.add).toEqual([]);
    expect(mainContainer(rendered.get('host')!, 'DaemonSet', 'sextant-agent').pod['securityContext'].supplementalGroups).toEqual([]);
  });

  it('minikube uses the image built into its Docker and never pulls', () => {
    for (const o of rendered.get('minikube')!) {
      for (const c of containersOf(o) as Obj[]) {
        expect(c['image']).toBe('sextant:dev');
        expect(c['imagePullPolicy']).toBe('Never');
      }
    }
  });
});

describe('the receiver and the injection webhook (application, cloudnative)', () => {
  const RECEIVER_MODES = ['application', 'cloudnative'] as const;
  const ports = (name: string) => ((mainContainer(rendered.get(name)!, 'DaemonSet', 'sextant-agent').container['ports'] ?? []) as Obj[]).filter((p) => p['hostPort'] !== undefined);

  it('turn the receiver on by mode and publish its two ports on the node, and only they do', () => {
    for (const name of OVERLAYS) {
      const objects = rendered.get(name)!;
      const config = effectiveConfig(mainContainer(objects, 'DaemonSet', 'sextant-agent').env, 'agent');
      const receiver = (RECEIVER_MODES as readonly string[]).includes(name);
      expect(config.receiver.enabled, name).toBe(receiver);
      expect(ports(name).map((p) => [p['name'], p['containerPort'], p['hostPort']]).sort(), name).toEqual(receiver ? [['otlp-grpc', 4317, 4317], ['otlp-http', 4318, 4318]] : []);
      if (receiver) {
        expect(config.receiver.httpListen).toEqual({ host: '0.0.0.0', port: 4318 });
        expect(config.receiver.grpcListen).toEqual({ host: '0.0.0.0', port: 4317 });
      }
      expect(objects.some((o) => o.kind === 'MutatingWebhookConfiguration'), name).toBe(receiver);
      expect(objects.some((o) => o.kind === 'Deployment' && o.metadata.name === 'sextant-webhook'), name).toBe(receiver);
    }
  });

  it.each(RECEIVER_MODES)('%s: the webhook configuration never blocks a pod, answers fast and skips kube-system and its own namespace', (name) => {
    const objects = rendered.get(name)!;
    const mwc = find(objects, 'MutatingWebhookConfiguration', 'sextant-webhook');
    expect(mwc['webhooks']).toHaveLength(1);
    const hook = (mwc['webhooks'] as Obj[])[0]!;
    expect(hook['failurePolicy']).toBe('Ignore');
    expect(hook['timeoutSeconds']).toBeLessThanOrEqual(5);
    expect(hook['sideEffects']).toBe('None');
    expect(hook['admissionReviewVersions']).toEqual(['v1']);
    expect(hook['rules']).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(hook['namespaceSelector']).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'sextant'] }] });
    const svc = hook['clientConfig'].service as Obj;
    expect(svc).toMatchObject({ name: 'sextant-webhook', namespace: 'sextant', path: '/mutate', port: 443 });
    const service = find(objects, 'Service', 'sextant-webhook');
    const deployment = mainContainer(objects, 'Deployment', 'sextant-webhook');
    const port = (service['spec'].ports as Obj[]).find((p) => p['port'] === 443)!;
    const target = (deployment.container['ports'] as Obj[]).find((p) => p['name'] === port['targetPort'])!;
    const config = effectiveConfig(deployment.env, 'gateway');
    expect(target['containerPort']).toBe(config.webhook.listen.port);
    // The namespace in the configuration's selector is the one the webhook is told it runs in.
    expect((deployment.container['env'] as Obj[]).find((e) => e['name'] === 'SEXTANT_WEBHOOK_NAMESPACE')?.['valueFrom']).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(config.webhook.configurationName).toBe(mwc['metadata'].name);
    expect(config.webhook.serviceName).toBe(service['metadata'].name);
    expect(config.webhook.agentPort).toBe(4318);
  });

  it.each(RECEIVER_MODES)('%s: the webhook gets namespaces and its own configuration, nothing more', (name) => {
    const objects = rendered.get(name)!;
    const grants: string[] = [];
    for (const binding of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') as Obj[]) {
      if (!(binding['subjects'] as Obj[]).some((s) => s['name'] === 'sextant-webhook')) continue;
      expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'sextant-webhook', namespace: 'sextant' }]);
      const role = find(objects, binding['roleRef'].kind, binding['roleRef'].name);
      for (const rule of role['rules'] as Obj[]) {
        for (const g of rule['apiGroups'] as string[]) {
          for (const r of rule['resources'] as string[]) grants.push(`${g}/${r}:${(rule['verbs'] as string[]).join(',')}:${(rule['resourceNames'] as string[] | undefined)?.join(',') ?? '*'}`);
        }
      }
    }
    expect(grants.sort()).toEqual(['/namespaces:get:*', 'admissionregistration.k8s.io/mutatingwebhookconfigurations:get,patch:sextant-webhook']);
    const deployment = mainContainer(objects, 'Deployment', 'sextant-webhook');
    expect(deployment.pod['serviceAccountName']).toBe('sextant-webhook');
    expect(deployment.pod['hostNetwork']).toBeUndefined();
    expect((deployment.pod['volumes'] ?? []) as Obj[]).toEqual([]);
    // Self-generated CA: one replica, or two webhooks would patch caBundle in turn.
    expect(find(objects, 'Deployment', 'sextant-webhook')['spec'].replicas).toBe(1);
  });
});

describe('the policy check catches what it is for', () => {
  const base = rendered.get('fullstack')!;
  const mutate = (edit: (agent: Obj, pod: Obj) => void): string[] => {
    const copy = structuredClone(base);
    const ds = find(copy, 'DaemonSet', 'sextant-agent') as K8sObject;
    const pod = podSpecOf(ds) as Obj;
    edit((pod['containers'] as Obj[])[0]!, pod);
    return checkPolicy(copy, docs);
  };

  it('flags privileged, escalation, undocumented capabilities, root, writable host paths and missing pieces', () => {
    expect(mutate((c) => (c['securityContext'].privileged = true))).toEqual([expect.stringMatching(/privileged$/)]);
    expect(mutate((c) => (c['securityContext'].allowPrivilegeEscalation = true))).toEqual([expect.stringMatching(/allowPrivilegeEscalation/)]);
    expect(mutate((c) => c['securityContext'].capabilities.add.push('SYS_ADMIN'))).toEqual([expect.stringMatching(/SYS_ADMIN is not documented/)]);
    // CHOWN is documented for the init container only.
    expect(mutate((c) => c['securityContext'].capabilities.add.push('CHOWN'))).toEqual([expect.stringMatching(/CHOWN is not documented/)]);
    expect(mutate((c) => (c['securityContext'].runAsUser = 0))).toEqual([expect.stringMatching(/uid 0 without a documented reason/)]);
    expect(mutate((c) => delete c['securityContext'].readOnlyRootFilesystem)).toEqual([expect.stringMatching(/readOnlyRootFilesystem/)]);
    expect(mutate((c) => delete c['resources'].limits)).toHaveLength(2);
    expect(mutate((c) => delete c['readinessProbe'])).toEqual([expect.stringMatching(/readinessProbe/)]);
    expect(mutate((c) => (c['securityContext'].capabilities.drop = []))).toEqual([expect.stringMatching(/drop lacks ALL/)]);
    expect(mutate((c) => delete (c['volumeMounts'] as Obj[]).find((m) => m['mountPath'] === '/host/var/log/pods')!['readOnly'])).toEqual([
      expect.stringMatching(/hostPath \/var\/log\/pods is mounted writable/),
    ]);
    expect(mutate((_c, pod) => (pod['tolerations'] = [{ operator: 'Exists', effect: 'NoSchedule' }]))).toEqual([expect.stringMatching(/every taint/)]);
    expect(mutate((_c, pod) => (pod['hostNetwork'] = true))).toEqual([expect.stringMatching(/hostNetwork/)]);
    expect(mutate((_c, pod) => delete pod['priorityClassName'])).toEqual([expect.stringMatching(/priorityClassName/)]);
  });

  it('sees every extra grant to the gateway: another resource, a write verb, a Lease of any name, a role bound cluster-wide', () => {
    const grants = (edit: (objects: K8sObject[]) => void): { cluster: string[]; namespaced: string[] } => {
      const copy = structuredClone(base);
      edit(copy);
      return gatewayGrants(copy);
    };
    const clean = gatewayGrants(base);
    expect(grants((o) => (find(o, 'ClusterRole', 'sextant-gateway')['rules'] as Obj[])[0]!['resources'].push('secrets')).cluster).toContain('/secrets list');
    expect(grants((o) => (find(o, 'ClusterRole', 'sextant-gateway')['rules'] as Obj[])[1]!['verbs'].push('patch')).cluster).toContain('apps/deployments patch');
    expect(grants((o) => delete (find(o, 'Role', 'sextant-gateway-lease')['rules'] as Obj[])[1]!['resourceNames']).namespaced).toContain('coordination.k8s.io/leases update');
    const widened = grants((o) => {
      const b = find(o, 'RoleBinding', 'sextant-gateway-lease');
      o.push({ ...structuredClone(b), apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'x' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sextant-agent' } });
    });
    expect(widened.cluster.length).toBeGreaterThan(clean.cluster.length);
  });

  it('rejects an object the API schema rejects', async () => {
    const copy = structuredClone(find(base, 'DaemonSet', 'sextant-agent')) as Obj;
    copy['spec'].template.spec.containers[0].ports[0].containerPort = 'self';
    await expect(validateObject(copy as K8sObject)).rejects.toThrow(/containerPort must be integer/);
    delete copy['spec'].template.spec.containers;
    await expect(validateObject(copy as K8sObject)).rejects.toThrow(/containers/);
  });
});
