import { describe, expect, it } from 'vitest';
import type { K8sObject } from '../../../helpers/kustomize.js';
import { validateObject } from '../../../helpers/kustomize-validate.js';
import { demoCluster } from './cluster-fixtures.js';
import { COLLECTIONS, PATH_OF_KIND } from './stand-in-cluster.js';

/**
 * The stand-in's objects are in the API's exact shape: each demo object, as the stand-in serves
 * it (with kind and apiVersion), validates against the Kubernetes OpenAPI schema of its kind
 * (kubernetes-models: types, required fields, enums, formats).
 */

function validate(o: Record<string, any>): Promise<void> {
  return validateObject(o as K8sObject);
}

describe('demo cluster fixtures', () => {
  const objects = demoCluster().map(([kind, o]): K8sObject => ({ kind, apiVersion: COLLECTIONS[PATH_OF_KIND[kind]!]!.apiVersion, ...o, metadata: { ...o.metadata, resourceVersion: '1000' } }));

  it.each(objects.map((o) => [`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, o] as const))('%s validates against its API schema', async (_name, o) => {
    // A core/v1 event served by events.k8s.io carries eventTime: null, which the schema (eventTime required) does not model.
    const shaped = o.kind === 'Event' && o['eventTime'] === null ? { ...o, eventTime: '2026-12-01T07:58:00.000000Z' } : o;
    await expect(validate(shaped)).resolves.toBeUndefined();
  });

  it('covers every kind the monitor watches', () => {
    expect(new Set(objects.map((o) => o.kind))).toEqual(new Set(Object.values(COLLECTIONS).map((c) => c.kind)));
  });

  it('a Lease as the stand-in stores it validates too', async () => {
    await validate({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'sextant-gateway-cluster-monitor', namespace: 'sextant', resourceVersion: '1' }, spec: { holderIdentity: 'gw-a', leaseDurationSeconds: 15, acquireTime: '2026-12-01T08:00:00.000000Z', renewTime: '2026-12-01T08:00:02.000000Z', leaseTransitions: 0 } });
  });
});
