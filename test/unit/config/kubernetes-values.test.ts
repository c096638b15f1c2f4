import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { autoSwitch, keyPatterns, label, sourceRefs } from '../../../src/enrich/k8s/config-values.js';
import { loadConfig, type LoadOptions } from '../../../src/config/load.js';
import { type ParseContext, Problem } from '../../../src/config-kinds/values.js';
import { ConfigError } from '../../../src/errors.js';

const TEXT: ParseContext = { cwd: '/work', origin: 'env SEXTANT_X', from: 'text' };
const YAML: ParseContext = { cwd: '/work', origin: 'file /etc/sextant.yaml', from: 'yaml' };

const dir = mkdtempSync(join(tmpdir(), 'sextant-k8s-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(o: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: dir, argv: [], ...o });
}

function configError(o: LoadOptions): ConfigError {
  try {
    load(o);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('kubernetes config section', () => {
  it('has defaults that turn it on only inside a cluster', () => {
    const k = load().config.kubernetes;
    expect(k).toMatchObject({ enabled: 'auto', clusterName: '', podLabels: [], costCenterFrom: [], productFrom: [] });
    expect(k.apiServer).toBeUndefined();
    expect(k.tokenFile).toBeUndefined();
  });

  it('reads every key from SEXTANT_KUBERNETES_* variables', () => {
    const token = join(dir, 'token');
    const ca = join(dir, 'ca.crt');
    writeFileSync(token, 'abc');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const k = load({
      env: {
        SEXTANT_KUBERNETES_ENABLED: 'true',
        SEXTANT_KUBERNETES_API_SERVER: 'https://10.0.0.1:6443/',
        SEXTANT_KUBERNETES_TOKEN_FILE: token,
        SEXTANT_KUBERNETES_CA_FILE: ca,
        SEXTANT_KUBERNETES_CLUSTER_NAME: 'Prod EU_1',
        SEXTANT_KUBERNETES_POD_LABELS: 'app, app.kubernetes.io/*',
        SEXTANT_KUBERNETES_POD_ANNOTATIONS: 'prometheus.io/scrape',
        SEXTANT_KUBERNETES_NAMESPACE_LABELS: 'team',
        SEXTANT_KUBERNETES_NAMESPACE_ANNOTATIONS: 'owner',
        SEXTANT_KUBERNETES_COST_CENTER_FROM: 'pod-label:team,namespace-annotation:finance.example.com/cost-center',
        SEXTANT_KUBERNETES_PRODUCT_FROM: 'pod-label:app.kubernetes.io/part-of',
      },
    }).config.kubernetes;
    expect(k).toMatchObject({
      enabled: 'true',
      apiServer: 'https://10.0.0.1:6443',
      tokenFile: token,
      caFile: ca,
      clusterName: 'Prod EU_1',
      podLabels: ['app', 'app.kubernetes.io/*'],
      podAnnotations: ['prometheus.io/scrape'],
      namespaceLabels: ['team'],
      namespaceAnnotations: ['owner'],
      costCenterFrom: [
        { scope: 'pod', kind: 'label', key: 'team' },
        { scope: 'namespace', kind: 'annotation', key: 'finance.example.com/cost-center' },
      ],
      productFrom: [{ scope: 'pod', kind: 'label', key: 'app.kubernetes.io/part-of' }],
    });
  });

  it('reads the YAML section, booleans included', () => {
    const file = join(dir, 'k.yaml');
    writeFileSync(file, 'kubernetes:\n  enabled: false\n  clusterName: prod\n  podLabels: [app, team]\n  costCenterFrom:\n    - namespace-label:team\n');
    const k = load({ argv: ['--config', file] }).config.kubernetes;
    expect(k).toMatchObject({ enabled: 'false', clusterName: 'prod', podLabels: ['app', 'team'], costCenterFrom: [{ scope: 'namespace', kind: 'label', key: 'team' }] });
  });

  it('rejects bad values naming the key (exit 2 in the CLI)', () => {
    expect(configError({ env: { SEXTANT_KUBERNETES_ENABLED: 'maybe' } }).key).toBe('kubernetes.enabled');
    expect(configError({ env: { SEXTANT_KUBERNETES_API_SERVER: 'ftp://x' } }).key).toBe('kubernetes.apiServer');
    expect(configError({ env: { SEXTANT_KUBERNETES_TOKEN_FILE: join(dir, 'absent') } }).key).toBe('kubernetes.tokenFile');
    expect(configError({ env: { SEXTANT_KUBERNETES_POD_LABELS: 'app,bad key' } }).key).toBe('kubernetes.podLabels');
    expect(configError({ env: { SEXTANT_KUBERNETES_COST_CENTER_FROM: 'label:team' } }).key).toBe('kubernetes.costCenterFrom');
    expect(configError({ env: { SEXTANT_KUBERNETES_CLUSTER_NAME: 'a\tb' } }).key).toBe('kubernetes.clusterName');
  });

  it('can be set by flags', () => {
    expect(load({ argv: ['--kubernetes-cluster-name', 'c1', '--kubernetes-enabled=false'] }).config.kubernetes).toMatchObject({ clusterName: 'c1', enabled: 'false' });
  });
});

describe('kubernetes value kinds', () => {
  it('autoSwitch', () => {
    const s = autoSwitch({ description: 'x', default: 'auto' });
    expect(s.parse(true, YAML)).toBe('true');
    expect(s.parse(false, YAML)).toBe('false');
    expect(s.parse(' AUTO ', TEXT)).toBe('auto');
    expect(s.parse('yes', TEXT)).toBe('true');
    expect(s.parse('0', TEXT)).toBe('false');
    expect(() => s.parse('on', TEXT)).toThrow(Problem);
    expect(() => s.parse(3, YAML)).toThrow(/got a number/);
  });

  it('label: single-line printable text, bounded, never echoed', () => {
    const s = label({ description: 'x', default: '', maxChars: 16 });
    expect(s.parse(' prod-1 ', TEXT)).toBe('prod-1');
    expect(s.parse(42, YAML)).toBe('42');
    for (const bad of ['x'.repeat(17), 'a\nb', 'a\u0000']) {
      let msg = '';
      try {
        s.parse(bad, TEXT);
      } catch (err) {
        msg = (err as Error).message;
      }
      expect(msg.length).toBeGreaterThan(0);
      expect(msg).not.toContain(bad);
    }
    expect(() => s.parse({}, YAML)).toThrow(/mapping/);
  });

  it('keyPatterns: Kubernetes label keys and prefixes with *', () => {
    const s = keyPatterns({ description: 'x' });
    expect(s.parse('app,app.kubernetes.io/name,team*,example.com/*', TEXT)).toEqual(['app', 'app.kubernetes.io/name', 'team*', 'example.com/*']);
    expect(s.parse(['a', 'b'], YAML)).toEqual(['a', 'b']);
    expect(s.parse('', TEXT)).toEqual([]);
    for (const bad of ['-app', 'a b', 'UPPER.example.com/x', 'a/b/c', 'x'.repeat(64), 'é']) {
      expect(() => s.parse(bad, TEXT), bad).toThrow(/item 1/);
    }
    expect(() => s.parse([1], YAML)).toThrow(/item 1: expected a string/);
    expect(() => s.parse(Array.from({ length: 257 }, (_, i) => `k${i}`), YAML)).toThrow(/256/);
    // Upper case is fine in the name part.
    expect(s.parse('example.com/Team', TEXT)).toEqual(['example.com/Team']);
  });

  it('sourceRefs: scope-kind:key, in order; shown back as written', () => {
    const s = sourceRefs({ description: 'x' });
    const v = s.parse('pod-label:team, NAMESPACE-ANNOTATION: example.com/cc', TEXT);
    expect(v).toEqual([
      { scope: 'pod', kind: 'label', key: 'team' },
      { scope: 'namespace', kind: 'annotation', key: 'example.com/cc' },
    ]);
    expect(s.show(v)).toEqual(['pod-label:team', 'namespace-annotation:example.com/cc']);
    for (const bad of ['team', 'node-label:x', 'pod-label:', 'pod-label:a b', 'pod-tag:x']) {
      expect(() => s.parse(bad, TEXT), bad).toThrow(/item 1/);
    }
  });
});
