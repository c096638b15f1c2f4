import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './kustomize.js';

/**
 * Offline checks of rendered manifests: the Kubernetes API schemas of the `kubernetes-models`
 * package (types, required fields, enums, formats; it does not reject unknown fields), and
 * `kubectl kustomize` when a kubectl is on this machine, to cross-check the offline renderer.
 */

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

/** `apps/v1` + `DaemonSet` → `kubernetes-models/apps/v1/DaemonSet`; core `v1` has no group. */
export function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Throws the schema's message (with the object's kind/name) when the object is invalid. */
export async function validateObject(o: K8sObject): Promise<void> {
  const mod = (await import(modelModule(o.apiVersion, o.kind))) as Record<string, ModelClass>;
  const Model = mod[o.kind];
  if (Model === undefined) throw new Error(`kubernetes-models has no ${o.apiVersion} ${o.kind}`);
  try {
    new Model(structuredClone(o)).validate();
  } catch (err) {
    throw new Error(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
  }
}

const KUBECTL_CANDIDATES = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'];

/** A kubectl with a built-in kustomize, or undefined. */
export function findKubectl(): string | undefined {
  for (const p of KUBECTL_CANDIDATES) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found !== '' ? found : undefined;
}

export function kubectlKustomize(kubectl: string, dir: string): K8sObject[] {
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout, { version: '1.1' })
    .map((d) => d.toJS() as unknown)
    .filter((v): v is K8sObject => v !== null && v !== undefined);
}
