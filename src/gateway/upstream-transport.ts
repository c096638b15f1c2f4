import type { Transport } from '../export/types.js';
import { HttpTransport } from '../export/http-transport.js';
import { RetryingTransport } from '../export/retrying-transport.js';
import type { Logger } from '../self/logger.js';
import type { SecretValue } from './config.js';

/**
 * The transport the gateway forwards with when the caller gives none: the agent's own HTTP
 * transport (gzip, Api-Token) wrapped in its retry policy. The retry layer gives up after
 * `maxElapsedMs`; the forwarder then keeps the request queued and tries again later, so a long
 * upstream outage is bounded by the queue, not by the retry budget.
 */
export function createUpstreamTransport(upstream: string, token: SecretValue | undefined, logger: Logger): Transport {
  const inner = new HttpTransport({
    endpoint: upstream,
    endpointKey: 'gateway.upstream',
    headers: {},
    apiToken: token,
    compression: 'gzip',
    caFile: undefined,
    insecureSkipVerify: false,
    proxy: undefined,
    userAgent: 'sextant-gateway',
    logger,
  });
  return new RetryingTransport(inner, { initialBackoffMs: 500, maxBackoffMs: 5_000, multiplier: 2, maxElapsedMs: 20_000 }, {});
}
