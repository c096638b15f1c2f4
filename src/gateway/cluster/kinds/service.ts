import { isJsonObject, type Json, objectAt, stringAt } from './json-fields.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec } from './kind.js';

/**
 * Services (core/v1): only their selector, for the graph's Service → pods edges. No metrics of
 * their own here (endpoint counts come from EndpointSlices, which are not watched).
 */

export interface ServiceObject extends ClusterObject {
  /** Label selector; undefined for a service without one (it selects no pods: its endpoints are managed by hand). */
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly type: string;
}

const MAX_SELECTOR_KEYS = 64;

export function convertService(raw: unknown, ctx: ConvertContext): ServiceObject | undefined {
  const meta = clusterMeta(raw, 'Service', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const spec = objectAt(raw as Json, 'spec');
  const sel = spec['selector'];
  let selector: Record<string, string> | undefined;
  if (isJsonObject(sel)) {
    let n = 0;
    for (const k in sel) {
      const v = sel[k];
      if (typeof v !== 'string' || ++n > MAX_SELECTOR_KEYS) continue;
      (selector ??= {})[k] = ctx.strings.intern(v);
    }
  }
  return { ...meta, selector: selector === undefined ? undefined : Object.freeze(selector), type: ctx.strings.intern(stringAt(spec, 'type')) };
}

export const serviceKind: KindSpec<ServiceObject> = {
  kind: 'Service',
  apiVersion: 'v1',
  resource: 'services',
  path: '/api/v1/services',
  convert: convertService,
  metrics: [],
};
