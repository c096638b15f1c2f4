/**
 * What the CRI client speaks on the wire: the CRI messages (protobufjs on proto/cri/api.proto)
 * and gRPC over node:http2. One module, imported by the client on its first call to a socket
 * that exists, so a node without a CRI runtime loads neither protobufjs nor node:http2
 * (measured: +4.3 MB for node:http2 and ~3 MB for protobufjs and the parsed proto).
 */
export { criProto, decodeResponse, encodeRequest } from './cri-proto.js';
export { GrpcCallError, GrpcStatus, GrpcUnixChannel, grpcStatusName } from './grpc-over-http2.js';
