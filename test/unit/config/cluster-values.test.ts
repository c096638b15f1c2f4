import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadOptions } from '../../../src/config/load.js';
import { KEYS_BY_PATH } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/errors.js';

/** The `cluster:` section (src/gateway/cluster/config.ts), composed into the one schema. */

const dir = mkdtempSync(join(tmpdir(), 'sextant-cluster-config-'));
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

describe('cluster config section', () => {
  it('defaults: on in a cluster (auto), 30 s interval, the service account’s namespace, a 15 s lease', () => {
    expect(load().config.cluster).toEqual({ enabled: 'auto', interval: 30_000, leaseNamespace: '', leaseDuration: 15_000 });
  });

  it('has env names and flags derived like every key', () => {
    expect(KEYS_BY_PATH.get('cluster.enabled')?.env).toBe('SEXTANT_CLUSTER_ENABLED');
    expect(KEYS_BY_PATH.get('cluster.interval')?.flag).toBe('--cluster-interval');
    expect(KEYS_BY_PATH.get('cluster.leaseNamespace')?.env).toBe('SEXTANT_CLUSTER_LEASE_NAMESPACE');
    expect(KEYS_BY_PATH.get('cluster.leaseDuration')?.env).toBe('SEXTANT_CLUSTER_LEASE_DURATION');
  });

  it('reads env, flags and the file, in that precedence', () => {
    const file = join(dir, 'sextant.yaml');
    writeFileSync(file, 'cluster:\n  enabled: false\n  interval: 1m\n  leaseNamespace: observability\n');
    const c = load({ env: { SEXTANT_CONFIG: file, SEXTANT_CLUSTER_ENABLED: 'true', SEXTANT_CLUSTER_LEASE_DURATION: '30s' }, argv: ['--cluster-interval', '10s'] }).config.cluster;
    expect(c).toEqual({ enabled: 'true', interval: 10_000, leaseNamespace: 'observability', leaseDuration: 30_000 });
  });

  it('refuses bad values naming the key', () => {
    expect(configError({ env: { SEXTANT_CLUSTER_INTERVAL: '100ms' } }).key).toBe('cluster.interval');
    expect(configError({ env: { SEXTANT_CLUSTER_ENABLED: 'sometimes' } }).key).toBe('cluster.enabled');
    expect(configError({ env: { SEXTANT_CLUSTER_LEASE_NAMESPACE: 'Not_A_Name' } }).key).toBe('cluster.leaseNamespace');
    expect(configError({ env: { SEXTANT_CLUSTER_LEASE_DURATION: '1s' } }).key).toBe('cluster.leaseDuration');
  });
});
