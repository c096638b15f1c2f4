import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { RuntimeError } from '../../errors.js';

/**
 * The CRI v1 messages Sextant speaks, loaded once from the project's own subset in
 * `proto/cri/api.proto` with protobufjs. The file sits three folders above this module both as
 * `<root>/src/sources/container/cri-proto.ts` (vitest) and as `<root>/dist/sources/container/
 * cri-proto.js` (built), so the working directory never matters.
 */
export const CRI_PROTO_FILE = fileURLToPath(new URL('../../../proto/cri/api.proto', import.meta.url));

/** The unary calls of `runtime.v1.RuntimeService` declared in the subset. */
export type CriMethod =
  | 'Version'
  | 'ListPodSandbox'
  | 'PodSandboxStatus'
  | 'ListContainers'
  | 'ContainerStatus'
  | 'ContainerStats'
  | 'RunPodSandbox'
  | 'StopPodSandbox'
  | 'RemovePodSandbox'
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer';

export interface CriMethodTypes {
  /** `/runtime.v1.RuntimeService/<Method>`, the HTTP/2 path gRPC posts to. */
  readonly path: string;
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
}

export interface CriProto {
  readonly root: protobuf.Root;
  readonly methods: Readonly<Record<CriMethod, CriMethodTypes>>;
}

const SERVICE = 'runtime.v1.RuntimeService';

let loaded: CriProto | undefined;

/** Loads and resolves the proto file on first use; later calls return the same types. */
export function criProto(): CriProto {
  if (loaded !== undefined) return loaded;
  const root = new protobuf.Root();
  root.loadSync(CRI_PROTO_FILE);
  root.resolveAll();
  const service = root.lookupService(SERVICE);
  const methods = {} as Record<CriMethod, CriMethodTypes>;
  for (const method of service.methodsArray) {
    method.resolve();
    methods[method.name as CriMethod] = {
      path: `/${SERVICE}/${method.name}`,
      request: method.resolvedRequestType!,
      response: method.resolvedResponseType!,
    };
  }
  loaded = { root, methods };
  return loaded;
}

/**
 * Encodes a request given as a plain object (camelCase field names, enums by name or number).
 * `fromObject` ignores unknown keys and converts numbers to int64, so a caller's typo drops a
 * field rather than corrupting the message.
 */
export function encodeRequest(type: protobuf.Type, request: Readonly<Record<string, unknown>>): Buffer {
  const bytes = type.encode(type.fromObject(request)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes a response. Whatever protobufjs throws (truncated input, a wire type the field cannot
 * have, a length past the end) becomes `RuntimeError(runtime, 'protocol')`: the runtime answered,
 * but not in the shape the API defines. The result is a protobufjs message: absent message fields
 * read as null, absent scalars as their zero value, maps as objects, int64 as Long.
 */
export function decodeResponse(runtime: string, type: protobuf.Type, bytes: Uint8Array): protobuf.Message {
  try {
    return type.decode(bytes);
  } catch (err) {
    throw new RuntimeError(runtime, 'protocol', `undecodable ${type.name}: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
}
