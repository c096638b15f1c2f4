import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { formatListen, type ListenAddress } from '../config-kinds/values.js';
import { ConfigError } from '../errors.js';
import { type PeerCredentialReader, socketFd } from '../native/peer-credentials.js';
import { GrpcHandler } from './grpc-listener.js';
import { HttpHandler, kSender } from './http-listener.js';
import type { OtlpReceiver, Sender } from './otlp-receiver.js';

export interface ListenerConfig {
  readonly httpListen: ListenAddress;
  readonly grpcListen: ListenAddress;
  readonly socket: string | undefined;
  readonly maxRequestBytes: number;
  readonly maxDecompressedBytes: number;
}

export interface Listeners {
  /** `host:port` actually bound (port 0 asks for a free one). */
  readonly httpAddress: string;
  readonly grpcAddress: string;
  readonly socketPath: string | undefined;
  close(): Promise<void>;
}

/** HTTP/2 with prior knowledge starts with this preface (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** How long a socket connection may stay silent before its first bytes. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

/**
 * The receiver's three listeners: OTLP/HTTP (TCP), OTLP/gRPC (TCP, h2c) and, when configured, a
 * unix socket that serves both (the first bytes tell HTTP/2's preface from an HTTP/1.1 request)
 * and knows each connection's sender by its peer credentials. Binding fails at start with the
 * key that sets the address.
 */
export async function startListeners(receiver: OtlpReceiver, config: ListenerConfig, credentials: PeerCredentialReader): Promise<Listeners> {
  const limits = { maxRequestBytes: config.maxRequestBytes, maxDecompressedBytes: config.maxDecompressedBytes };
  // Through getBuiltinModule, not an ESM import: importing node:http as a module also evaluates
  // its lazy getters (WebSocket, EventSource: Node's bundled undici), as src/self/server.ts says.
  const { createServer: createHttpServer } = process.getBuiltinModule('node:http');
  const http = createHttpServer({ requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 65_000 }, new HttpHandler(receiver, limits, 'http').handle);
  const grpc = createHttp2Server({ maxSessionMemory: 64 });
  grpc.on('stream', new GrpcHandler(receiver, limits, 'grpc').handle);
  const sessions = trackSessions(grpc);
  const servers: { close(): Promise<void> }[] = [];
  try {
    const httpAddress = await bind(http, config.httpListen, 'receiver.httpListen');
    servers.push(closer(http));
    const grpcAddress = await bind(grpc, config.grpcListen, 'receiver.grpcListen');
    servers.push(closer(grpc, sessions));
    let socketPath: string | undefined;
    if (config.socket !== undefined) {
      socketPath = config.socket;
      const socketHttp = createHttpServer({ requestTimeout: 60_000, headersTimeout: 30_000 }, new HttpHandler(receiver, limits, 'socket').handle);
      const socketGrpc = createHttp2Server({ maxSessionMemory: 64 });
      socketGrpc.on('stream', new GrpcHandler(receiver, limits, 'socket').handle);
      const socketSessions = trackSessions(socketGrpc);
      const unix = createNetServer((s) => dispatch(s, receiver, credentials, socketHttp, socketGrpc));
      await bindSocket(unix, socketPath);
      servers.push({
        close: async () => {
          await closer(unix).close();
          await closer(socketHttp).close();
          await closer(socketGrpc, socketSessions).close();
          try {
            unlinkSync(socketPath!);
          } catch {
            // Already gone.
          }
        },
      });
    }
    return {
      httpAddress,
      grpcAddress,
      socketPath,
      close: async () => {
        await Promise.all(servers.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
}

/** A unix-socket connection: who is at the other end, then to the HTTP/1.1 or the HTTP/2 server by its first bytes. */
function dispatch(socket: Socket, receiver: OtlpReceiver, credentials: PeerCredentialReader, http: HttpServer, h2: Http2Server): void {
  const fd = socketFd(socket);
  const out = new Int32Array(3);
  const pid = fd !== undefined && credentials.read(fd, out) === 0 ? out[0]! : 0;
  const sender: Sender = { transport: 'socket', address: undefined, identity: receiver.identifyPid(pid) };
  (socket as Socket & { [kSender]?: Sender })[kSender] = sender;
  socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
  socket.once('data', (first: Buffer) => {
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(first);
    const isH2 = first.length >= 3 && first.subarray(0, Math.min(first.length, H2_PREFACE.length)).equals(H2_PREFACE.subarray(0, Math.min(first.length, H2_PREFACE.length)));
    // Left paused for HTTP/2: the session reads what is buffered itself on its next tick, and a
    // flowing socket would hand those bytes to nobody.
    if (isH2) h2.emit('connection', socket);
    else {
      http.emit('connection', socket);
      socket.resume();
    }
  });
  socket.on('error', () => socket.destroy());
}

function trackSessions(server: Http2Server): Set<Http2Session> {
  const sessions = new Set<Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => s.destroy());
  });
  return sessions;
}

function bind(server: HttpServer | Http2Server, address: ListenAddress, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new ConfigError(key, `cannot listen on ${formatListen(address)}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve(formatListen({ host: a.address, port: a.port }));
    });
  });
}

function bindSocket(server: NetServer, socketPath: string): Promise<void> {
  // A socket left by an agent that was killed: listen() would fail with EADDRINUSE on it.
  try {
    if (lstatSync(socketPath).isSocket()) unlinkSync(socketPath);
  } catch {
    // Absent: nothing to clear.
  }
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new ConfigError('receiver.socket', `cannot listen on the socket: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.off('error', onError);
      // Applications run as any uid: who may connect is decided by who can reach the directory.
      try {
        chmodSync(socketPath, 0o666);
      } catch {
        // Left as the umask made it; only same-uid senders then.
      }
      resolve();
    });
  });
}

function closer(server: HttpServer | Http2Server | NetServer, sessions?: Set<Http2Session>): { close(): Promise<void> } {
  return {
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const s of sessions ?? []) s.close();
        // A session that does not close within a second is cut.
        setTimeout(() => {
          for (const s of sessions ?? []) s.destroy();
        }, 1000).unref();
      }),
  };
}
