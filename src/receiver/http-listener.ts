import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyFormat, isGzip, routeSignal, type BodyFormat } from '../export/http-routes.js';
import { statusBody } from '../export/rpc-status.js';
import { BodyError, readBody, type BodyLimits } from '../io/request-body.js';
import type { OtlpReceiver, ReceiveOutcome, Sender } from './otlp-receiver.js';
import type { ConnectionIdentity } from './sender-identity.js';
import type { Transport } from './receiver-metrics.js';

/** Where a connection's identity is kept: found once when it connects, read by every request on it. */
export const kSender = Symbol('sextant.receiver.sender');
type WithSender = { [kSender]?: Sender };

const EMPTY = Buffer.alloc(0);
const EMPTY_JSON = Buffer.from('{}');

/**
 * OTLP/HTTP for the receiver (`/v1/traces`, `/v1/metrics`, `/v1/logs`, and Dynatrace's
 * `/api/v2/otlp` prefix): protobuf or JSON, gzip or identity, errors as `google.rpc.Status` in the
 * request's encoding, as the OTLP/HTTP spec and the gateway answer them. A forbidden sender is
 * answered before its body is read; a body over the limits is cut while it arrives.
 */
export class HttpHandler {
  readonly #receiver: OtlpReceiver;
  readonly #limits: BodyLimits;
  readonly #transport: Transport;

  constructor(receiver: OtlpReceiver, limits: BodyLimits, transport: Transport) {
    this.#receiver = receiver;
    this.#limits = limits;
    this.#transport = transport;
  }

  /** The sender of a request: the identity its connection got when it connected (unix socket), or found now (TCP). */
  #sender(req: IncomingMessage): Sender {
    const socket = req.socket as WithSender & typeof req.socket;
    let s = socket[kSender];
    if (s === undefined) {
      const address = socket.remoteAddress;
      const identity: ConnectionIdentity | undefined = address !== undefined && this.#receiver.allowed(address) ? this.#receiver.identifyAddress(address) : undefined;
      s = { transport: this.#transport, address, identity: identity ?? { by: 'none', podUid: undefined, containerId: undefined, local: false } };
      // The pod index may learn the address later; a refused connection is asked again next request.
      if (identity !== undefined) socket[kSender] = s;
    }
    return s;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#handle(req, res).catch(() => {
      if (!res.headersSent) answer(res, 500, statusBody(500, 'internal error', undefined));
      else res.destroy();
    });
  };

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sender = this.#sender(req);
    const signal = routeSignal(req.url);
    const format = bodyFormat(req.headers['content-type']);
    if (signal === undefined) {
      this.#receiver.refused(undefined, sender, 'not_found', 'not_found');
      return close(res, 404, statusBody(404, 'not found: POST to /v1/traces, /v1/metrics or /v1/logs', format));
    }
    if (req.method !== 'POST') {
      this.#receiver.refused(signal, sender, 'unsupported', 'method');
      res.setHeader('allow', 'POST');
      return close(res, 405, statusBody(405, 'method not allowed: use POST', format));
    }
    if (sender.transport !== 'socket' && (sender.address === undefined || !this.#receiver.allowed(sender.address))) {
      const o = this.#receiver.forbidden(signal, sender);
      return close(res, 403, statusBody(403, o.ok ? '' : o.message, format));
    }
    if (format === undefined) {
      this.#receiver.refused(signal, sender, 'unsupported', 'content_type');
      return close(res, 415, statusBody(415, 'unsupported content type: use application/x-protobuf or application/json', undefined));
    }
    const gzip = isGzip(req.headers['content-encoding']);
    if (gzip === undefined) {
      this.#receiver.refused(signal, sender, 'unsupported', 'content_encoding');
      return close(res, 415, statusBody(415, 'unsupported content encoding: use gzip or none', format));
    }
    const length = Number(req.headers['content-length'] ?? Number.NaN);
    if (length > this.#limits.maxRequestBytes) {
      this.#receiver.refused(signal, sender, 'too_large', 'too_large');
      return close(res, 413, statusBody(413, `request body exceeds ${this.#limits.maxRequestBytes} bytes`, format));
    }
    let body: Buffer;
    try {
      body = (await readBody(req, gzip, this.#limits)).body;
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      this.#receiver.refused(signal, sender, err.status === 413 ? 'too_large' : 'bad_request', err.reason);
      return close(res, err.status, statusBody(err.status, err.message, format));
    }
    respond(res, format, this.#receiver.receive(signal, format, body, sender));
  }
}

function respond(res: ServerResponse, format: BodyFormat, outcome: ReceiveOutcome): void {
  if (outcome.ok) {
    // An empty Export*ServiceResponse: no partial success to report.
    res.setHeader('content-type', format === 'json' ? 'application/json' : 'application/x-protobuf');
    res.statusCode = 200;
    res.end(format === 'json' ? EMPTY_JSON : EMPTY);
    return;
  }
  if (outcome.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(outcome.retryAfterSeconds));
  answer(res, outcome.status, statusBody(outcome.status, outcome.message, format));
}

function answer(res: ServerResponse, status: number, body: { body: Buffer; contentType: string }): void {
  res.statusCode = status;
  res.setHeader('content-type', body.contentType);
  res.end(body.body);
}

/** Answers and closes the connection: the unread body is not worth draining. */
function close(res: ServerResponse, status: number, body: { body: Buffer; contentType: string }): void {
  res.setHeader('connection', 'close');
  answer(res, status, body);
}
