import type { BlockList } from 'node:net';
import type { PodMetadata } from '../enrich/k8s/pod-metadata-index.js';
import type { BodyFormat } from '../export/http-routes.js';
import type { OtlpSignal } from '../export/types.js';
import type { AckTarget, Attributes, AttrValue, OtlpBlock } from '../model/index.js';
import { BurstLog } from '../self/burst-log.js';
import type { Logger } from '../self/logger.js';
import { JsonShapeError, jsonToProtobuf } from './otlp-json.js';
import { attributeString, type ResourceEntry, splitRequest, WireError } from './otlp-walk.js';
import type { ReceiverMetrics, Transport } from './receiver-metrics.js';
import { type Enrichment, ResourceRewriter } from './resource-rewrite.js';
import { type ConnectionIdentity, type IdentifiedBy, isLoopback, normalizeAddress, type SenderIdentifier, UNKNOWN_LOCAL } from './sender-identity.js';

/** Where received blocks go: the pipeline's receiver rings (src/pipeline/pipeline.ts). */
export interface ReceivedSink {
  offerReceived(signal: OtlpSignal, blocks: readonly OtlpBlock[]): boolean;
  readonly receivedMaxBytes: number;
}

/** What the listeners know about a sender's connection. */
export interface Sender {
  readonly transport: Transport;
  /** The TCP peer address; undefined on the unix socket. */
  readonly address: string | undefined;
  /** Found at connect time (socket credentials, peer address). */
  readonly identity: ConnectionIdentity;
}

export type ReceiveOutcome =
  | { readonly ok: true; readonly items: number }
  | { readonly ok: false; readonly status: 400 | 403 | 413 | 503; readonly message: string; readonly retryAfterSeconds?: number };

export interface ReceiverOptions {
  readonly allowNetworks: BlockList;
  readonly retryAfterSeconds: number;
  /** Host attributes for records of senders on this node (the node's `host.*`). */
  readonly hostAttributes: Attributes;
  /** `k8s.node.name` for senders the API does not know. */
  readonly nodeName: string | undefined;
}

/** Keys the agent sets for a container it identified through the socket (proven). */
const CONTAINER_KEYS = ['container.id', 'k8s.container.name', 'k8s.container.restart_count'] as const;

/**
 * The receiver's request flow, shared by its three listeners: who may send, the validating walk
 * (or JSON → protobuf first), who sent it, the enriched resource, the pipeline. Counts every
 * outcome; logs rejections once per burst.
 */
export class OtlpReceiver {
  readonly #sink: ReceivedSink;
  readonly #identify: SenderIdentifier;
  readonly #metrics: ReceiverMetrics;
  readonly #o: ReceiverOptions;
  readonly #rewriter = new ResourceRewriter();
  readonly #rejections: BurstLog;
  readonly #enrichments = new Map<string, Enrichment>();
  #hostAttributes: Attributes;
  #hostVersion = 0;
  readonly #ack: AckTarget;

  constructor(sink: ReceivedSink, identify: SenderIdentifier, metrics: ReceiverMetrics, options: ReceiverOptions, logger: Logger) {
    this.#sink = sink;
    this.#identify = identify;
    this.#metrics = metrics;
    this.#o = options;
    this.#hostAttributes = options.hostAttributes;
    this.#rejections = new BurstLog(logger, 'receiver rejected requests');
    // One ack target for every block: the token is the block's signal and item count, so no
    // closure per block. The pipeline settles it once the endpoint answered.
    this.#ack = {
      settle: (token, ok) => metrics.settled(token & 3, token >>> 2, ok),
    };
  }

  /** The host resource changed (inventory, SIGHUP): later records carry the new one. */
  setHostAttributes(attributes: Attributes): void {
    this.#hostAttributes = attributes;
    this.#hostVersion++;
    this.#enrichments.clear();
  }

  /** Whether a TCP peer may send at all: loopback, a pod of this node, or an allowed network. */
  allowed(address: string | undefined): boolean {
    if (address === undefined) return false;
    if (isLoopback(address)) return true;
    const a = normalizeAddress(address);
    if (this.#identify.pods?.isPodAddress(a) === true) return true;
    return this.#o.allowNetworks.check(a, a.includes(':') ? 'ipv6' : 'ipv4');
  }

  /** The connection's identity, once per TCP connection. */
  identifyAddress(address: string): ConnectionIdentity {
    // allowNetworks senders are not on this node for all the agent knows: no host.* proof.
    const local = isLoopback(address) || this.#identify.pods?.isPodAddress(normalizeAddress(address)) === true;
    return this.#identify.byAddress(address, local);
  }

  /** The connection's identity, once per unix-socket connection (pid from SO_PEERCRED, or 0). */
  identifyPid(pid: number): ConnectionIdentity {
    return pid > 0 ? this.#identify.byPid(pid) : UNKNOWN_LOCAL;
  }

  forbidden(signal: OtlpSignal | undefined, sender: Sender): ReceiveOutcome {
    this.#metrics.request(signal, sender.transport, 'forbidden');
    this.#rejections.note('forbidden');
    return { ok: false, status: 403, message: 'sender not allowed: only loopback, the unix socket and pods of this node may send to the agent' };
  }

  /** Counts an answer a listener gave before the body reached `receive` (415, 413 by length …). */
  refused(signal: OtlpSignal | undefined, sender: Sender, result: 'bad_request' | 'too_large' | 'unsupported' | 'not_found' | 'unavailable', reason: string): void {
    this.#metrics.request(signal, sender.transport, result);
    this.#rejections.note(reason);
  }

  receive(signal: OtlpSignal, format: BodyFormat, body: Buffer, sender: Sender): ReceiveOutcome {
    let proto: Buffer = body;
    let entries: ResourceEntry[];
    try {
      if (format === 'json') proto = jsonToProtobuf(signal, body);
      entries = splitRequest(signal, proto);
    } catch (err) {
      if (!(err instanceof WireError) && !(err instanceof JsonShapeError)) throw err;
      this.#metrics.request(signal, sender.transport, 'bad_request');
      this.#rejections.note(format === 'json' ? 'invalid_json' : 'invalid_protobuf');
      // JsonShapeError says "invalid JSON: …" for syntax, a field path for shape.
      const message = format === 'protobuf' ? `invalid protobuf: ${err.message}` : err.message.startsWith('invalid JSON') ? err.message : `invalid OTLP JSON: ${err.message}`;
      return { ok: false, status: 400, message: truncate(message) };
    }
    if (proto.length > this.#sink.receivedMaxBytes) {
      this.#metrics.request(signal, sender.transport, 'too_large');
      this.#rejections.note('too_large');
      return { ok: false, status: 413, message: `request of ${proto.length} bytes is larger than the receiver's budget (pipeline.traces.maxBytes)` };
    }
    const blocks: OtlpBlock[] = [];
    let items = 0;
    const kind = SIGNAL_CODE[signal];
    for (const entry of entries) {
      const { enrichment, by } = this.#enrichmentFor(proto, entry, sender.identity);
      this.#metrics.identified(signal, by);
      items += entry.items;
      blocks.push({ bytes: this.#rewriter.rewrite(proto, entry, enrichment), items: entry.items, ack: this.#ack, ackToken: (entry.items << 2) | kind });
    }
    if (blocks.length > 0 && !this.#sink.offerReceived(signal, blocks)) {
      this.#metrics.request(signal, sender.transport, 'unavailable');
      this.#rejections.note('ring_full');
      return { ok: false, status: 503, message: 'the agent is behind its endpoint; retry later', retryAfterSeconds: this.#o.retryAfterSeconds };
    }
    this.#metrics.request(signal, sender.transport, 'accepted');
    this.#metrics.accepted(signal, items, proto.length);
    return { ok: true, items };
  }

  flush(): void {
    this.#rejections.flush();
  }

  #enrichmentFor(body: Uint8Array, entry: ResourceEntry, conn: ConnectionIdentity): { enrichment: Enrichment; by: IdentifiedBy } {
    let by: IdentifiedBy = conn.by;
    let podUid = conn.podUid;
    let containerName: string | undefined;
    for (const a of entry.attributes) {
      if (a.key === 'k8s.container.name') containerName = attributeString(body, a);
      else if (podUid === undefined && a.key === 'k8s.pod.uid') {
        const claimed = attributeString(body, a);
        if (claimed !== undefined && this.#identify.pod(claimed) !== undefined) {
          podUid = claimed;
          by = 'resource';
        }
      }
    }
    if (by === 'socket' && podUid === undefined && conn.containerId === undefined) by = 'none';
    const meta = podUid === undefined ? undefined : this.#identify.pod(podUid);
    const key = `${by}|${podUid ?? ''}|${conn.containerId ?? ''}|${containerName ?? ''}|${meta?.version ?? -1}|${this.#hostVersion}|${conn.local ? 1 : 0}`;
    let e = this.#enrichments.get(key);
    if (e === undefined) {
      e = this.#build(key, by, podUid, meta, conn, containerName);
      if (this.#enrichments.size >= 4096) this.#enrichments.clear();
      this.#enrichments.set(key, e);
    }
    return { enrichment: e, by };
  }

  #build(key: string, by: IdentifiedBy, podUid: string | undefined, meta: PodMetadata | undefined, conn: ConnectionIdentity, containerName: string | undefined): Enrichment {
    const a: Record<string, AttrValue> = {};
    const proven = new Set<string>();
    if (conn.local) {
      for (const k in this.#hostAttributes) {
        a[k] = this.#hostAttributes[k]!;
        proven.add(k);
      }
    }
    const podProven = by === 'socket' || by === 'peer';
    if (podUid !== undefined) {
      if (meta !== undefined) for (const k in meta.attributes) a[k] = meta.attributes[k]!;
      else {
        a['k8s.pod.uid'] = podUid;
        if (this.#o.nodeName !== undefined) a['k8s.node.name'] = this.#o.nodeName;
      }
      if (podProven) for (const k in a) if (k.startsWith('k8s.') || k.startsWith('dt.')) proven.add(k);
    }
    // The container: by the runtime id the socket proved, else by the name the sender gave.
    const containers = meta?.containers ?? [];
    let container = conn.containerId !== undefined ? containers.find((c) => c.id === conn.containerId) : undefined;
    if (container === undefined && containerName !== undefined) container = containers.find((c) => c.name === containerName);
    if (container === undefined && conn.containerId === undefined && containers.length === 1) container = containers[0];
    const containerId = conn.containerId ?? (container !== undefined && container.id.length > 0 ? container.id : undefined);
    if (containerId !== undefined) a['container.id'] = containerId;
    if (container !== undefined) {
      a['k8s.container.name'] = container.name;
      a['k8s.container.restart_count'] = container.restartCount;
    }
    if (by === 'socket' && conn.containerId !== undefined) for (const k of CONTAINER_KEYS) if (k in a) proven.add(k);
    return { attributes: Object.freeze(a), proven, key };
  }
}

/** The two low bits of an ack token: which signal the block was. */
const SIGNAL_CODE: Readonly<Record<OtlpSignal, number>> = { traces: 0, metrics: 1, logs: 2 };

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
