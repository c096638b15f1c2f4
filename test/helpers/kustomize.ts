import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KustomizeSubsetError, strategicMerge } from './kustomize-merge.js';

export { KustomizeSubsetError };

/**
 * An offline renderer for exactly the kustomize subset deploy/kubernetes/ uses, so the manifests
 * can be validated on a machine with no kustomize (Debian ships none) and no kubectl. The subset:
 *
 * - `resources`: YAML files (one or more documents) and directories holding a kustomization.yaml;
 * - `labels`: `[{ pairs: {...} }]`, added to every object's `metadata.labels` (not to selectors
 *   or pod templates: kustomize's `labels` with its defaults);
 * - `images`: `[{ name, newName?, newTag? }]`, applied to every container and init container whose
 *   image name (without tag) is `name`;
 * - `patches`: `[{ path }]`, a strategic-merge patch file naming its target by apiVersion, kind,
 *   name (and namespace) — see kustomize-merge.ts for the merge rules implemented.
 *
 * Anything else in a kustomization.yaml is an error, not silently ignored: a field added to the
 * manifests must be added here (and checked against `kubectl kustomize` by the tests) first.
 * Order within one kustomization, as kustomize does it: resources, patches, labels, images.
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images', 'patches']);
const LABEL_FIELDS = new Set(['pairs']);
const IMAGE_FIELDS = new Set(['name', 'newName', 'newTag']);
const PATCH_FIELDS = new Set(['path']);

/** Kinds the renderer knows are cluster-scoped (no metadata.namespace). */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass', 'Node', 'PersistentVolume', 'StorageClass', 'MutatingWebhookConfiguration']);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

/** `kind/namespace/name`, the identity kustomize keeps unique. */
export function objectKey(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** Objects sorted by kind, namespace, name: the form the tests compare in. */
export function sortObjects(objects: readonly K8sObject[]): K8sObject[] {
  return [...objects].sort((a, b) => (objectKey(a) < objectKey(b) ? -1 : objectKey(a) > objectKey(b) ? 1 : 0));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkFields(where: string, value: unknown, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (!isMap(value)) throw new KustomizeSubsetError(`${where}: expected a mapping`);
  for (const k of Object.keys(value)) {
    if (!allowed.has(k)) throw new KustomizeSubsetError(`${where}: field "${k}" is not implemented by test/helpers/kustomize.ts (implemented: ${[...allowed].join(', ')})`);
  }
  return value;
}

function listOf(where: string, value: unknown): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new KustomizeSubsetError(`${where}: expected a list`);
  return value;
}

/** Every document of a YAML file; errors of the parser are thrown, empty documents skipped. */
export function readYamlDocuments(file: string): unknown[] {
  // YAML 1.1, as kubectl and the API server read manifests: 0440 is octal, yes/no are booleans.
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new KustomizeSubsetError(`${file}: ${doc.errors[0]!.message}`);
    const v: unknown = doc.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function asObject(file: string, v: unknown): K8sObject {
  if (!isMap(v) || typeof v['apiVersion'] !== 'string' || typeof v['kind'] !== 'string' || !isMap(v['metadata']) || typeof v['metadata']['name'] !== 'string') {
    throw new KustomizeSubsetError(`${file}: a resource needs apiVersion, kind and metadata.name`);
  }
  return v as K8sObject;
}

/** The kustomization file of a directory (kustomization.yaml; the other names are refused). */
export function kustomizationFile(dir: string): string {
  const file = path.join(dir, 'kustomization.yaml');
  if (!existsSync(file)) {
    for (const other of ['kustomization.yml', 'Kustomization']) {
      if (existsSync(path.join(dir, other))) throw new KustomizeSubsetError(`${dir}: only kustomization.yaml is implemented, found ${other}`);
    }
    throw new KustomizeSubsetError(`${dir}: no kustomization.yaml`);
  }
  return file;
}

/** Renders the kustomization in `dir`, as `kubectl kustomize dir` would (for the subset above). */
export function renderKustomization(dir: string): K8sObject[] {
  const file = kustomizationFile(dir);
  const docs = readYamlDocuments(file);
  if (docs.length !== 1) throw new KustomizeSubsetError(`${file}: expected one document`);
  const k = checkFields(file, docs[0], KUSTOMIZATION_FIELDS);
  if (k['apiVersion'] !== 'kustomize.config.k8s.io/v1beta1' || k['kind'] !== 'Kustomization') {
    throw new KustomizeSubsetError(`${file}: expected apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization`);
  }

  // Resources, in order; a directory is rendered first (its own patches, labels, images).
  const objects: K8sObject[] = [];
  const seen = new Set<string>();
  for (const entry of listOf(`${file} resources`, k['resources'])) {
    if (typeof entry !== 'string') throw new KustomizeSubsetError(`${file}: resources entries must be paths`);
    if (/^[a-z]+:\/\//i.test(entry)) throw new KustomizeSubsetError(`${file}: remote resource ${entry} is not implemented`);
    const target = path.resolve(dir, entry);
    const loaded = statSync(target).isDirectory() ? renderKustomization(target) : readYamlDocuments(target).map((d) => asObject(target, d));
    for (const o of loaded) {
      const key = objectKey(o);
      if (seen.has(key)) throw new KustomizeSubsetError(`${file}: ${key} appears twice`);
      seen.add(key);
      objects.push(o);
    }
  }

  for (const entry of listOf(`${file} patches`, k['patches'])) {
    const p = checkFields(`${file} patches`, entry, PATCH_FIELDS);
    if (typeof p['path'] !== 'string') throw new KustomizeSubsetError(`${file}: a patch needs a path (inline patches are not implemented)`);
    const patchFile = path.resolve(dir, p['path']);
    const patchDocs = readYamlDocuments(patchFile);
    if (patchDocs.length !== 1) throw new KustomizeSubsetError(`${patchFile}: one patch per file is implemented`);
    const patch = asObject(patchFile, patchDocs[0]);
    const matches = objects.filter(
      (o) =>
        o.apiVersion === patch.apiVersion &&
        o.kind === patch.kind &&
        o.metadata.name === patch.metadata.name &&
        (patch.metadata.namespace === undefined || patch.metadata.namespace === o.metadata.namespace),
    );
    if (matches.length !== 1) throw new KustomizeSubsetError(`${patchFile}: patch matches ${matches.length} resources (needs exactly one)`);
    const i = objects.indexOf(matches[0]!);
    objects[i] = strategicMerge(matches[0]!, patch, patchFile) as K8sObject;
  }

  for (const entry of listOf(`${file} labels`, k['labels'])) {
    const l = checkFields(`${file} labels`, entry, LABEL_FIELDS);
    const pairs = l['pairs'];
    if (!isMap(pairs)) throw new KustomizeSubsetError(`${file}: labels need pairs`);
    for (const o of objects) {
      o.metadata.labels = { ...(o.metadata.labels ?? {}) };
      for (const [name, value] of Object.entries(pairs)) o.metadata.labels[name] = String(value);
    }
  }

  for (const entry of listOf(`${file} images`, k['images'])) {
    const img = checkFields(`${file} images`, entry, IMAGE_FIELDS);
    if (typeof img['name'] !== 'string') throw new KustomizeSubsetError(`${file}: an image entry needs a name`);
    for (const o of objects) applyImage(o, img['name'], img['newName'] as string | undefined, img['newTag'] as string | undefined);
  }
  return objects;
}

/** `registry:5000/a/b:tag` → name `registry:5000/a/b`, tag `tag`; a digest is kept apart. */
export function splitImage(ref: string): { name: string; tag: string | undefined; digest: string | undefined } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, tag: undefined, digest };
}

/** Every container list of a pod spec, wherever the kind keeps its pod template. */
export function podSpecOf(o: K8sObject): Record<string, unknown> | undefined {
  const spec = o['spec'];
  if (!isMap(spec)) return undefined;
  if (o.kind === 'Pod') return spec;
  const template = spec['template'];
  if (isMap(template) && isMap(template['spec'])) return template['spec'];
  return undefined;
}

export function containersOf(o: K8sObject): Record<string, unknown>[] {
  const pod = podSpecOf(o);
  if (pod === undefined) return [];
  const out: Record<string, unknown>[] = [];
  for (const field of ['initContainers', 'containers']) {
    const list = pod[field];
    if (Array.isArray(list)) for (const c of list) if (isMap(c)) out.push(c);
  }
  return out;
}

function applyImage(o: K8sObject, name: string, newName: string | undefined, newTag: string | undefined): void {
  for (const c of containersOf(o)) {
    if (typeof c['image'] !== 'string') continue;
    const cur = splitImage(c['image']);
    if (cur.name !== name) continue;
    const n = newName ?? cur.name;
    if (newTag !== undefined) c['image'] = `${n}:${newTag}`;
    else c['image'] = n + (cur.tag !== undefined ? `:${cur.tag}` : '') + (cur.digest !== undefined ? `@${cur.digest}` : '');
  }
}
