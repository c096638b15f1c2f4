import { stringify } from 'yaml';
import type { LoadedConfig, Source } from './load.js';
import { Secret } from '../config-kinds/secret.js';
import { KEYS, type KeyInfo, type SextantConfig } from './schema.js';

function get(config: SextantConfig, path: string): unknown {
  let node: unknown = config;
  for (const part of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return node;
}

function shown(key: KeyInfo, value: unknown): unknown {
  return value === undefined ? null : key.spec.show(value);
}

/**
 * The config as plain data for display: durations and sizes in unit form (`10s`, `16MiB`),
 * listen addresses as `host:port`, unset keys as null, and every secret (and header value)
 * as `[redacted]`. Safe to log or print.
 */
export function redactedConfig(config: SextantConfig): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const key of KEYS) {
    const parts = key.path.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) node = (node[parts[i]!] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = shown(key, get(config, key.path));
  }
  return root;
}

function sourceComment(key: KeyInfo, source: Source, file: string | undefined, value: unknown, mode: string): string {
  if (key.spec.secret && source !== 'default') {
    // A secret knows where it was read from: its own file, the env, or the config file.
    const first: unknown = Array.isArray(value) ? value[0] : value;
    if (first instanceof Secret) return first.source;
  }
  switch (source) {
    case 'default':
      return 'default';
    case 'mode':
      return `mode ${mode}`;
    case 'env':
      return `env ${key.env}`;
    case 'flag':
      return `flag ${key.flag ?? ''}`.trim();
    case 'file':
      return `file ${file ?? ''}`.trim();
  }
}

/** One YAML scalar or flow collection on one line. */
function inline(v: unknown): string {
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

/**
 * `sextant check` output: the effective config as YAML, one key per line with a comment saying
 * where its value came from. It is valid YAML and, secrets aside, loads back to the same config.
 */
export function renderCheckYaml(loaded: LoadedConfig): string {
  const lines: string[] = ['# sextant: effective configuration (secrets redacted)'];
  if (loaded.file !== undefined) lines.push(`# config file: ${loaded.file}`);
  if (loaded.local) lines.push('# --local: agent and in-process gateway');
  for (const w of loaded.warnings) lines.push(`# warning: ${w.key}: ${w.message}`);
  let openSections: string[] = [];
  for (const key of KEYS) {
    const parts = key.path.split('.');
    const sections = parts.slice(0, -1);
    let common = 0;
    while (common < sections.length && common < openSections.length && sections[common] === openSections[common]) common++;
    for (let i = common; i < sections.length; i++) lines.push(`${'  '.repeat(i)}${sections[i]}:`);
    openSections = sections;
    const value = get(loaded.config, key.path);
    const comment = sourceComment(key, loaded.sources[key.path] ?? 'default', loaded.file, value, loaded.config.mode);
    lines.push(`${'  '.repeat(sections.length)}${parts[parts.length - 1]}: ${inline(shown(key, value))}  # ${comment}`);
  }
  return lines.join('\n') + '\n';
}
