import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKubernetesMetadata } from '../../../../src/enrich/k8s/kubernetes-metadata.js';
import { ConfigError } from '../../../../src/errors.js';
import { Registry } from '../../../../src/self/registry.js';
import { BASE_CONFIG, FAST, route, serviceAccountDir, TOKEN } from './cluster.js';
import { captureLogger, FakeApiServer, selfSignedCert } from './fake-api-server.js';
import { until } from '../../../helpers/wait.js';

const tls = selfSignedCert();
const dir = mkdtempSync(join(tmpdir(), 'sextant-k8s-factory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function deps(over: Partial<Parameters<typeof createKubernetesMetadata>[1]> = {}) {
  const log = captureLogger();
  return { log, deps: { logger: log.logger, registry: new Registry(), version: 't', nodeName: 'node-a', env: {}, serviceAccountDir: join(dir, 'no-sa'), tuning: FAST, ...over } };
}

describe('createKubernetesMetadata', () => {
  it('auto outside a cluster: off, no index, no log line', () => {
    const { log, deps: d } = deps();
    const k = createKubernetesMetadata(BASE_CONFIG, d);
    expect(k.index).toBeUndefined();
    expect(k.status().state).toBe('off');
    k.start();
    expect(log.lines.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
  });

  it('false: off even in a pod', () => {
    const { deps: d } = deps({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    const k = createKubernetesMetadata({ ...BASE_CONFIG, enabled: 'false' }, d);
    expect(k.index).toBeUndefined();
    expect(k.status().detail).toMatch(/kubernetes.enabled=false/);
  });

  it('true outside a cluster without apiServer: a config error naming the key', () => {
    const { deps: d } = deps();
    expect(() => createKubernetesMetadata({ ...BASE_CONFIG, enabled: 'true' }, d)).toThrow(ConfigError);
    try {
      createKubernetesMetadata({ ...BASE_CONFIG, enabled: 'true' }, d);
    } catch (err) {
      expect((err as ConfigError).key).toBe('kubernetes.enabled');
    }
  });

  it('in a pod without a mounted service account: one warning, unavailable, records unaffected', () => {
    const { log, deps: d } = deps({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } });
    const k = createKubernetesMetadata(BASE_CONFIG, d);
    expect(k.index).toBeUndefined();
    expect(k.status()).toMatchObject({ state: 'unavailable' });
    expect(k.status().detail).toMatch(/CA certificate/);
    expect(log.lines.filter((l) => l['level'] === 40)).toHaveLength(1);
  });

  it('no node name: off with one warning (the field selector needs it)', () => {
    const sa = serviceAccountDir(tls.cert);
    try {
      const { log, deps: d } = deps({ nodeName: undefined, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' }, serviceAccountDir: sa.dir });
      const k = createKubernetesMetadata(BASE_CONFIG, d);
      expect(k.index).toBeUndefined();
      expect(k.status().detail).toMatch(/node name/);
      expect(log.lines.filter((l) => l['level'] === 40)).toHaveLength(1);
    } finally {
      sa.cleanup();
    }
  });

  it('explicit apiServer, token file and CA file (out of cluster): synced, status counts, stop closes', async () => {
    const server = new FakeApiServer(tls);
    await server.listen();
    route(server);
    const token = join(dir, 'token');
    const ca = join(dir, 'ca.pem');
    writeFileSync(token, TOKEN);
    writeFileSync(ca, tls.cert);
    const { deps: d } = deps();
    const k = createKubernetesMetadata({ ...BASE_CONFIG, enabled: 'true', apiServer: server.url, tokenFile: token, caFile: ca }, d);
    k.start();
    try {
      await until('synced', () => k.status().state === 'synced', 8000);
      expect(k.status()).toMatchObject({ pods: 7, namespaces: 4, detail: 'ok' });
      expect(k.status().lastSyncUnixMs).toBeGreaterThan(0);
      expect(d.registry.render()).toMatch(/sextant_kubernetes_api_up 1/);
      expect(d.registry.render()).toMatch(/sextant_kubernetes_pods 7/);
      expect(d.registry.render()).not.toContain(TOKEN.slice(0, 20));
    } finally {
      await k.stop();
      await server.close();
    }
  });

  it('an IPv6 KUBERNETES_SERVICE_HOST is bracketed', async () => {
    const sa = serviceAccountDir(tls.cert);
    try {
      const { log, deps: d } = deps({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa.dir });
      const k = createKubernetesMetadata(BASE_CONFIG, d);
      expect(k.index).toBeDefined();
      k.start();
      expect(JSON.stringify(log.lines)).toContain('https://[fd00::1]:443');
      await k.stop();
    } finally {
      sa.cleanup();
    }
  });
});
