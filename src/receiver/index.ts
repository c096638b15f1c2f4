import type { Attributes } from '../model/index.js';
import { loadPeerCredentials } from '../native/peer-credentials.js';
import type { CreatedSource, Source, SourceDeps } from '../sources/types.js';
import { networkList, type ReceiverConfig } from './config.js';
import { type Listeners, startListeners } from './listeners.js';
import { OtlpReceiver, type ReceivedSink } from './otlp-receiver.js';
import { ReceiverMetrics } from './receiver-metrics.js';
import { SenderIdentifier } from './sender-identity.js';

export type { ReceivedSink } from './otlp-receiver.js';

/** What the receiver takes besides a source's deps. */
export interface ReceiverNeeds {
  /** The pipeline's receiver rings. */
  readonly received: ReceivedSink;
  /** Use the native addon for socket peer credentials (config `native`). */
  readonly native: boolean;
  /**
   * The agent reads the host's files (every mode but application): `host.*` comes from the host
   * resource. Without, senders get `host.name` = the node name only.
   */
  readonly hostAccess: boolean;
}

/** The receiver as the agent runs it: listening from `create` on, closed by `stop`. */
export class ReceiverSource implements Source {
  readonly name = 'receiver';
  readonly #listeners: Listeners;
  readonly #receiver: OtlpReceiver;

  constructor(listeners: Listeners, receiver: OtlpReceiver) {
    this.#listeners = listeners;
    this.#receiver = receiver;
  }

  async stop(): Promise<void> {
    await this.#listeners.close();
    this.#receiver.flush();
  }
}

function hostAttributesOf(deps: SourceDeps, hostAccess: boolean): Attributes {
  if (hostAccess) return deps.resource.attributes;
  return deps.nodeName === undefined ? {} : Object.freeze({ 'host.name': deps.nodeName });
}

/**
 * The OTLP receiver for applications on this node (src/receiver/): binds its listeners now, so a
 * taken port fails the start naming the key; pod metadata arrives through `setPodMetadata`.
 */
export async function create(config: ReceiverConfig, deps: SourceDeps & ReceiverNeeds): Promise<CreatedSource<ReceiverSource>> {
  const logger = deps.logger.child({ component: 'receiver' });
  const identify = new SenderIdentifier(deps.hostRoot);
  const receiver = new OtlpReceiver(
    deps.received,
    identify,
    new ReceiverMetrics(deps.registry),
    {
      allowNetworks: networkList(config.allowNetworks),
      retryAfterSeconds: Math.max(1, Math.round(config.retryAfter / 1000)),
      hostAttributes: hostAttributesOf(deps, deps.hostAccess),
      nodeName: deps.nodeName,
    },
    logger,
  );
  const credentials = loadPeerCredentials({ native: deps.native, logger });
  const listeners = await startListeners(receiver, { ...config, maxDecompressedBytes: Math.min(config.maxDecompressedBytes, deps.received.receivedMaxBytes) }, credentials);
  logger.info({ http: listeners.httpAddress, grpc: listeners.grpcAddress, socket: listeners.socketPath, peerCredentials: credentials.implementation }, 'OTLP receiver listening');
  const source = new ReceiverSource(listeners, receiver);
  return {
    source,
    setHostResource: (resource) => {
      if (deps.hostAccess) receiver.setHostAttributes(resource.attributes);
    },
    setPodMetadata: (pods) => identify.setPods(pods),
  };
}
