/**
 * Makes the host source's metric points: each carries the current host resource (it grows when
 * the inventory arrives or on SIGHUP) and the source's scope, so collectors pass only what
 * varies per point.
 */
import type { Attributes, MetricDescriptor, MetricPoint, Resource, Scope } from '../../model/index.js';

export class PointFactory {
  #resource: Resource;
  readonly #scope: Scope;

  constructor(resource: Resource, scope: Scope) {
    this.#resource = resource;
    this.#scope = scope;
  }

  get resource(): Resource {
    return this.#resource;
  }

  setResource(resource: Resource): void {
    this.#resource = resource;
  }

  get scope(): Scope {
    return this.#scope;
  }

  point(descriptor: MetricDescriptor, attributes: Attributes, start: bigint, time: bigint, value: number): MetricPoint {
    return { descriptor, resource: this.#resource, scope: this.#scope, attributes, startTimeUnixNano: start, timeUnixNano: time, value };
  }
}
