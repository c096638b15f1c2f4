import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as yamlParse } from 'yaml';
import { KustomizeSubsetError, renderKustomization, splitImage } from '../../helpers/kustomize.js';
import { strategicMerge } from '../../helpers/kustomize-merge.js';

// The offline renderer's own behaviour, on small kustomizations in a temp dir. Its agreement
// with real kustomize on the shipped manifests is checked in manifests.test.ts.

const root = mkdtempSync(path.join(tmpdir(), 'sextant-kustomize-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function tree(files: Record<string, string>): string {
  const dir = path.join(root, `t${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const HEAD = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n';
const DS = `apiVersion: apps/v1
kind: DaemonSet
metadata: { name: a, namespace: ns }
spec:
  template:
    spec:
      securityContext: { supplementalGroups: [0, 5] }
      containers:
        - name: c
          image: reg:5000/team/app:1.0
          args: [x, y]
          env: [{ name: A, value: "1" }, { name: B, value: "2" }]
          volumeMounts: [{ name: v1, mountPath: /a }, { name: v2, mountPath: /b }]
      volumes: [{ name: v1, emptyDir: {} }, { name: v2, emptyDir: {} }]
`;

describe('kustomize subset renderer', () => {
  it('renders resources from files and nested kustomizations, then labels and images', () => {
    const dir = tree({
      'base/kustomization.yaml': `${HEAD}resources: [ds.yaml, ns.yaml]\nlabels: [{ pairs: { team: x } }]\n`,
      'base/ds.yaml': DS,
      'base/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: { name: ns }\n---\n',
      'over/kustomization.yaml': `${HEAD}resources: [../base]\nimages: [{ name: reg:5000/team/app, newTag: "2.0" }]\n`,
    });
    const out = renderKustomization(path.join(dir, 'over'));
    expect(out.map((o) => o.kind)).toEqual(['DaemonSet', 'Namespace']);
    expect(out[1]!.metadata.labels).toEqual({ team: 'x' });
    const c = ((out[0]!['spec'] as any).template.spec.containers as any[])[0];
    expect(c.image).toBe('reg:5000/team/app:2.0');
  });

  it('fails on every kustomization field it does not implement', () => {
    for (const field of ['namespace: x', 'commonLabels: { a: b }', 'configMapGenerator: []', 'namePrefix: p-', 'patchesStrategicMerge: [p.yaml]', 'replicas: []', 'components: [c]']) {
      const dir = tree({ 'kustomization.yaml': `${HEAD}resources: []\n${field}\n` });
      expect(() => renderKustomization(dir), field).toThrow(KustomizeSubsetError);
    }
    const inline = tree({ 'kustomization.yaml': `${HEAD}patches: [{ patch: "{}", target: { kind: X } }]\n` });
    expect(() => renderKustomization(inline)).toThrow(/not implemented/);
    const labelOpts = tree({ 'kustomization.yaml': `${HEAD}labels: [{ pairs: { a: b }, includeSelectors: true }]\n` });
    expect(() => renderKustomization(labelOpts)).toThrow(/includeSelectors/);
    const remote = tree({ 'kustomization.yaml': `${HEAD}resources: [https://example.com/x]\n` });
    expect(() => renderKustomization(remote)).toThrow(/remote/);
    const otherName = tree({ 'kustomization.yml': HEAD });
    expect(() => renderKustomization(otherName)).toThrow(/only kustomization.yaml/);
  });

  it('refuses a duplicate resource and a patch that matches no resource', () => {
    const dup = tree({ 'kustomization.yaml': `${HEAD}resources: [a.yaml, b.yaml]\n`, 'a.yaml': DS, 'b.yaml': DS });
    expect(() => renderKustomization(dup)).toThrow(/twice/);
    const miss = tree({
      'kustomization.yaml': `${HEAD}resources: [a.yaml]\npatches: [{ path: p.yaml }]\n`,
      'a.yaml': DS,
      'p.yaml': 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: { name: other }\nspec: {}\n',
    });
    expect(() => renderKustomization(miss)).toThrow(/matches 0/);
  });

  it('rejects broken YAML and resources without identity', () => {
    const bad = tree({ 'kustomization.yaml': `${HEAD}resources: [a.yaml]\n`, 'a.yaml': 'kind: [unclosed\n' });
    expect(() => renderKustomization(bad)).toThrow(KustomizeSubsetError);
    const anon = tree({ 'kustomization.yaml': `${HEAD}resources: [a.yaml]\n`, 'a.yaml': 'apiVersion: v1\nkind: ConfigMap\n' });
    expect(() => renderKustomization(anon)).toThrow(/metadata.name/);
  });

  it('splits image references', () => {
    expect(splitImage('sextant')).toEqual({ name: 'sextant', tag: undefined, digest: undefined });
    expect(splitImage('reg:5000/a/b:1')).toEqual({ name: 'reg:5000/a/b', tag: '1', digest: undefined });
    expect(splitImage('a@sha256:ab')).toEqual({ name: 'a', tag: undefined, digest: 'sha256:ab' });
  });
});

describe('strategic merge subset', () => {
  const target = { spec: { template: { spec: (yamlParse(DS) as any).spec.template.spec } } };

  it('merges keyed lists, deletes with $patch, replaces primitive lists, removes null keys', () => {
    const patch = {
      spec: {
        template: {
          spec: {
            securityContext: { supplementalGroups: [] },
            containers: [
              {
                name: 'c',
                args: ['z'],
                env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }],
                volumeMounts: [{ mountPath: '/a', $patch: 'delete' }],
              },
              { name: 'd', image: 'x' },
            ],
            volumes: [{ name: 'v1', $patch: 'delete' }],
            hostPID: null,
          },
        },
      },
    };
    const out = strategicMerge(target, patch, 'test') as any;
    const spec = out.spec.template.spec;
    expect(spec.securityContext.supplementalGroups).toEqual([]);
    // Order as kustomize gives it (checked with kubectl kustomize 5.5): the patch's items first.
    expect(spec.containers.map((c: any) => c.name)).toEqual(['c', 'd']);
    expect(spec.containers[0].args).toEqual(['z']);
    expect(spec.containers[0].env).toEqual([{ name: 'B', value: '3' }, { name: 'C', value: '4' }, { name: 'A', value: '1' }]);
    expect(spec.containers[0].volumeMounts).toEqual([{ name: 'v2', mountPath: '/b' }]);
    expect(spec.volumes).toEqual([{ name: 'v2', emptyDir: {} }]);
    expect('hostPID' in spec).toBe(false);
    // The input is not changed.
    expect(target.spec.template.spec.volumes).toHaveLength(2);
  });

  it('merges a container\'s ports on containerPort, the patch\'s items first (as kyaml orders them)', () => {
    const t = { spec: { template: { spec: { containers: [{ name: 'c', ports: [{ name: 'self', containerPort: 9464 }] }] } } } };
    const out = strategicMerge(t, { spec: { template: { spec: { containers: [{ name: 'c', ports: [{ name: 'otlp', containerPort: 4318, hostPort: 4318 }, { containerPort: 9464, protocol: 'TCP' }] }] } } } }, 't') as typeof t;
    expect(out.spec.template.spec.containers[0]!.ports).toEqual([
      { name: 'otlp', containerPort: 4318, hostPort: 4318 },
      { name: 'self', containerPort: 9464, protocol: 'TCP' },
    ]);
  });

  it('refuses directives and fields it does not implement', () => {
    expect(() => strategicMerge(target, { spec: { $patch: 'replace' } }, 't')).toThrow(/directive/);
    expect(() => strategicMerge(target, { spec: { template: { spec: { containers: [{ name: 'c', $patch: 'replace' }] } } } }, 't')).toThrow(/not implemented/);
    expect(() => strategicMerge(target, { spec: { template: { spec: { containers: [{ image: 'no-name' }] } } } }, 't')).toThrow(/merge key/);
    // Ports merge by containerPort only inside a container; a Service's ports (merge key port) are not implemented.
    expect(() => strategicMerge({ spec: { ports: [{ port: 80 }] } }, { spec: { ports: [{ port: 443 }] } }, 't')).toThrow(/ports/);
    expect(() => strategicMerge(target, { spec: { template: { spec: { containers: [{ name: 'c', ports: [{ name: 'x' }] }] } } } }, 't')).toThrow(/merge key "containerPort"/);
    expect(() => strategicMerge(target, { spec: { $setElementOrder: [] } }, 't')).toThrow(/directive/);
    expect(() => strategicMerge({}, { a: { b: { $patch: 'delete' } } }, 't')).toThrow(/directive/);
  });
});

