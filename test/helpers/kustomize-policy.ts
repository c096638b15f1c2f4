import { readFileSync } from 'node:fs';
import { containersOf, podSpecOf, type K8sObject } from './kustomize.js';

/**
 * The security properties every rendered Sextant manifest must have (non-root, read-only root
 * filesystem, only the documented capabilities, host paths read-only, …), as one checker
 * that returns violations instead of throwing, so a test can also show that it catches a bad
 * manifest. The documented lists come from docs/security.md, between its HTML-comment markers:
 * a capability or a root container added to a manifest but not to that page is a violation.
 */

export interface DocumentedPrivileges {
  /** container name → capabilities that page lists for it. */
  readonly capabilities: ReadonlyMap<string, ReadonlySet<string>>;
  /** Containers the page documents as running as uid 0. */
  readonly rootContainers: ReadonlySet<string>;
}

function block(text: string, name: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i === -1 || j === -1 || j < i) throw new Error(`docs/security.md: no ${name} block`);
  return text.slice(i + begin.length, j);
}

/** Rows of a Markdown table: cells trimmed, header and separator rows dropped. */
function tableRows(text: string): string[][] {
  const rows = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .slice(1, l.endsWith('|') ? -1 : undefined)
        .split('|')
        .map((c) => c.trim()),
    );
  return rows.slice(2);
}

const unquote = (cell: string): string => cell.replace(/`/g, '').trim();

export function readDocumentedPrivileges(file: string): DocumentedPrivileges {
  const text = readFileSync(file, 'utf8');
  const capabilities = new Map<string, Set<string>>();
  for (const [cap, container] of tableRows(block(text, 'capabilities'))) {
    if (cap === undefined || container === undefined) continue;
    for (const c of container.split(',').map(unquote)) {
      const set = capabilities.get(c) ?? new Set<string>();
      set.add(unquote(cap));
      capabilities.set(c, set);
    }
  }
  const rootContainers = new Set(tableRows(block(text, 'root-containers')).map((r) => unquote(r[0] ?? '')));
  return { capabilities, rootContainers };
}

/** The state dir: the one host path a container may mount writable. */
export const STATE_DIR = '/var/lib/sextant';

type Obj = Record<string, any>;

export function checkPolicy(objects: readonly K8sObject[], docs: DocumentedPrivileges): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const pod = podSpecOf(o) as Obj | undefined;
    if (pod === undefined) continue;
    const who = `${o.kind}/${o.metadata.name}`;
    if (pod['hostNetwork'] === true) problems.push(`${who}: hostNetwork`);
    if (pod['hostIPC'] === true) problems.push(`${who}: hostIPC`);
    const podSc: Obj = pod['securityContext'] ?? {};
    if (podSc['seccompProfile']?.type !== 'RuntimeDefault') problems.push(`${who}: pod seccompProfile is not RuntimeDefault`);
    const volumes = new Map<string, Obj>(((pod['volumes'] ?? []) as Obj[]).map((v) => [v['name'], v]));
    const initNames = new Set(((pod['initContainers'] ?? []) as Obj[]).map((c) => c['name']));

    if (o.kind === 'DaemonSet') {
      const tolerations = (pod['tolerations'] ?? []) as Obj[];
      if (!tolerations.some((t) => t['operator'] === 'Exists' && t['key'] === undefined && t['effect'] === undefined)) {
        problems.push(`${who}: does not tolerate every taint (needs { operator: Exists } with no key and no effect)`);
      }
      if (typeof pod['priorityClassName'] !== 'string') problems.push(`${who}: no priorityClassName`);
      else if (!objects.some((p) => p.kind === 'PriorityClass' && p.metadata.name === pod['priorityClassName'])) {
        problems.push(`${who}: PriorityClass ${pod['priorityClassName']} is not in the manifests`);
      }
    }

    for (const c of containersOf(o) as Obj[]) {
      const name = String(c['name']);
      const at = `${who} container ${name}`;
      const sc: Obj = c['securityContext'] ?? {};
      if (sc['privileged'] === true) problems.push(`${at}: privileged`);
      if (sc['allowPrivilegeEscalation'] !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
      if (sc['readOnlyRootFilesystem'] !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
      const drop: string[] = sc['capabilities']?.drop ?? [];
      if (!drop.includes('ALL')) problems.push(`${at}: capabilities.drop lacks ALL`);
      const allowed = docs.capabilities.get(name) ?? new Set<string>();
      for (const cap of (sc['capabilities']?.add ?? []) as string[]) {
        if (!allowed.has(cap)) problems.push(`${at}: capability ${cap} is not documented for it in docs/security.md`);
      }
      const uid = sc['runAsUser'] ?? podSc['runAsUser'];
      const nonRoot = sc['runAsNonRoot'] ?? podSc['runAsNonRoot'];
      if (uid === undefined) problems.push(`${at}: no runAsUser (the image's user would decide)`);
      if (uid === 0 && !docs.rootContainers.has(name)) problems.push(`${at}: runs as uid 0 without a documented reason`);
      if (uid !== 0 && nonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
      for (const kind of ['requests', 'limits']) {
        for (const r of ['cpu', 'memory']) if (c['resources']?.[kind]?.[r] === undefined) problems.push(`${at}: no resources.${kind}.${r}`);
      }
      if (!initNames.has(name)) {
        if (c['livenessProbe']?.httpGet?.path !== '/healthz') problems.push(`${at}: no livenessProbe on /healthz`);
        if (c['readinessProbe']?.httpGet?.path !== '/readyz') problems.push(`${at}: no readinessProbe on /readyz`);
      }
      for (const m of (c['volumeMounts'] ?? []) as Obj[]) {
        const v = volumes.get(m['name']);
        if (v === undefined) problems.push(`${at}: mount ${m['name']} has no volume`);
        else if (v['hostPath'] !== undefined && m['readOnly'] !== true && v['hostPath'].path !== STATE_DIR) {
          problems.push(`${at}: hostPath ${v['hostPath'].path} is mounted writable (only ${STATE_DIR} may be)`);
        }
        if (m['mountPropagation'] === 'Bidirectional') problems.push(`${at}: Bidirectional mount propagation`);
      }
    }
  }
  return problems;
}
