import { createRequire } from 'node:module';
import type { Dispatcher, EnvHttpProxyAgent, Pool, ProxyAgent } from 'undici';

/**
 * undici's dispatchers, loaded from their own files rather than the package's index: the index
 * also loads fetch, WebSocket, EventSource, the cache stores, the mock agents and their
 * dependencies, none of which the agent uses. Measured on Node 24 (RssAnon after import and a
 * full GC): +12.7 MB for `import 'undici'`, +7.2 MB for the four files below. Each is loaded
 * the first time it is asked for, so a source switched off loads nothing (the exporter's
 * agents, the Docker and Kubernetes clients' pools).
 *
 * The index attaches undici's API (request, stream, pipeline, upgrade, connect) to
 * `Dispatcher.prototype` (`Object.assign(Dispatcher.prototype, api)`); done the same way here:
 * `request` is ours, `connect` is what ProxyAgent tunnels HTTPS through.
 */

const require = createRequire(import.meta.url);

let requestAttached = false;

function attachRequest(): void {
  if (requestAttached) return;
  requestAttached = true;
  const DispatcherClass = require('undici/lib/dispatcher/dispatcher.js') as { prototype: Record<string, unknown> };
  const api = require('undici/lib/api/index.js') as Record<string, unknown>;
  for (const [name, fn] of Object.entries(api)) DispatcherClass.prototype[name] ??= fn;
}

function load<T>(file: string): T {
  attachRequest();
  return require(file) as T;
}

/** `undici.Pool`: one origin, keep-alive connections (Docker's socket, the Kubernetes API). */
export function undiciPool(): typeof Pool {
  return load<typeof Pool>('undici/lib/dispatcher/pool.js');
}

/** `undici.EnvHttpProxyAgent`: honours HTTP(S)_PROXY and NO_PROXY, else a plain keep-alive agent. */
export function undiciEnvProxyAgent(): typeof EnvHttpProxyAgent {
  return load<typeof EnvHttpProxyAgent>('undici/lib/dispatcher/env-http-proxy-agent.js');
}

/** `undici.ProxyAgent`: everything through one configured proxy. */
export function undiciProxyAgent(): typeof ProxyAgent {
  return load<typeof ProxyAgent>('undici/lib/dispatcher/proxy-agent.js');
}

export type { Dispatcher };
