import type { BodyFormat } from './http-routes.js';

/**
 * Error bodies in the shape OTLP/HTTP asks for: a `google.rpc.Status` (code, message), binary
 * protobuf when the request was protobuf, JSON otherwise (also for requests whose format we could
 * not tell, such as a 415). Hand-encoded: two fields do not justify loading status.proto.
 */

/** gRPC status codes for the HTTP answers the gateway gives. */
function grpcCode(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 405:
      return 12; // UNIMPLEMENTED
    case 413:
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 503:
      return 14; // UNAVAILABLE
    default:
      return 13; // INTERNAL
  }
}

function varint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

export function statusProtobuf(httpStatus: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const head: number[] = [0x08]; // field 1 (code), varint
  varint(head, grpcCode(httpStatus));
  head.push(0x12); // field 2 (message), length-delimited
  varint(head, msg.length);
  return Buffer.concat([Buffer.from(head), msg]);
}

export function statusJson(httpStatus: number, message: string): Buffer {
  return Buffer.from(JSON.stringify({ code: grpcCode(httpStatus), message }), 'utf8');
}

export function statusBody(httpStatus: number, message: string, format: BodyFormat | undefined): { body: Buffer; contentType: string } {
  return format === 'protobuf'
    ? { body: statusProtobuf(httpStatus, message), contentType: 'application/x-protobuf' }
    : { body: statusJson(httpStatus, message), contentType: 'application/json' };
}
