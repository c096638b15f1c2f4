import { BlockList, isIP } from 'node:net';
import type { ConfigOf } from '../config-kinds/section.js';
import { boolean, bytes, duration, list, listen, path, Problem, type KeySpec } from '../config-kinds/values.js';

/**
 * The `receiver:` section: the agent's OTLP receiver for applications on its node (src/receiver/).
 * `enabled` is a mode switch: on in `application` and `cloudnative`, off in `fullstack` and
 * `host` unless set.
 */

/** `10.0.0.0/8`, `fd00::/8` or a single address; checked at load, matched with net.BlockList. */
function parseNetwork(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = slash === -1 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash !== -1 && !/^\d{1,3}$/.test(text.slice(slash + 1)))) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** The networks as a BlockList (an address "blocked" by it is one the list allows). */
export function networkList(networks: readonly string[]): BlockList {
  const list = new BlockList();
  for (const n of networks) {
    const p = parseNetwork(n)!;
    list.addSubnet(p.address, p.prefix, p.family);
  }
  return list;
}

function networks(o: { description: string }): KeySpec<readonly string[]> {
  const l = list({ description: o.description, default: [] });
  return {
    ...l,
    type: 'list of CIDR networks',
    parse(value, ctx) {
      const items = l.parse(value, ctx);
      items.forEach((n, i) => {
        if (parseNetwork(n) === undefined) throw new Problem(`item ${i + 1}: not an IP network; write 10.0.0.0/8, fd00::/8 or one address`);
      });
      return items;
    },
  };
}

export const RECEIVER_KEYS = {
  enabled: boolean({
    description:
      'The OTLP receiver for applications on this node (OTLP/HTTP, OTLP/gRPC, optional unix socket), enriching what they send with the pod, workload, cost and host attributes of the node\'s own records. Default from mode: on in application and cloudnative.',
    default: false,
  }),
  httpListen: listen({ description: 'OTLP/HTTP: POST /v1/traces, /v1/metrics, /v1/logs (protobuf or JSON, gzip). A DaemonSet publishes it as a hostPort.', default: '0.0.0.0:4318' }),
  grpcListen: listen({ description: 'OTLP/gRPC (the trace, metrics and logs Export methods; gzip).', default: '0.0.0.0:4317' }),
  socket: path({
    description:
      'A unix socket serving both OTLP/HTTP and OTLP/gRPC, for pods that share its directory through a hostPath; its senders are identified by their peer credentials (pid → cgroup → container). Unset: none.',
  }),
  allowNetworks: networks({
    description: 'Senders accepted besides loopback, the socket and the pods of this node (CIDRs: a Docker bridge, a host network). Anything else is answered 403.',
  }),
  maxRequestBytes: bytes({ description: 'Largest request body on the wire (413 above).', default: '4MiB', min: 1024, max: { value: 256 * 1024 * 1024 } }),
  maxDecompressedBytes: bytes({
    description: 'Largest request after gzip (413 above: no gzip bombs). At most pipeline.traces.maxBytes, the budget a request must fit in.',
    default: '8MiB',
    min: 1024,
    max: { value: 1024 * 1024 * 1024 },
  }),
  retryAfter: duration({ description: 'Retry-After of the 503 answered while the receiver\'s rings are full (gRPC: UNAVAILABLE), so the SDK retries.', default: '2s', min: '1s', max: '5m' }),
};

/** The `receiver:` section as loaded: what `create` (index.ts) takes. */
export type ReceiverConfig = ConfigOf<typeof RECEIVER_KEYS>;
