import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
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

/**
 * undici parses HTTP with llhttp compiled to WebAssembly, and V8 recompiles a wasm function with
 * TurboFan once it is hot (dynamic tiering). llhttp's parser is one function of 33,670 bytes of
 * wasm whose TurboFan compile holds 21.8 MiB of zone memory at its peak (37.8 MiB allocated in
 * all, 45–100 ms on a compile thread; `--trace-wasm-compilation-times`, Node 24.21): in a log
 * backlog that was the agent's peak RSS, up to 15 MB over what it held around it for a few
 * milliseconds after its first few hundred export answers (BENCHMARKS.md M2.3). The baseline
 * compiler's (Liftoff) code parses the agent's answers for no CPU the benches can tell apart.
 * Set before undici compiles llhttp (on its first connection), both flags:
 * `--no-wasm-dynamic-tiering` alone compiles every function with TurboFan up front. The flags
 * are process-wide; llhttp is the only wasm the agent runs.
 */
function keepWasmInBaselineTier(): void {
  setFlagsFromString('--no-wasm-tier-up');
  setFlagsFromString('--no-wasm-dynamic-tiering');
}

function attachRequest(): void {
  if (requestAttached) return;
  requestAttached = true;
  keepWasmInBaselineTier();
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
