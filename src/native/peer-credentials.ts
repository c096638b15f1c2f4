import type { Logger } from '../self/logger.js';
import { requireAddon } from './binding.js';

/**
 * The credentials of a unix socket's peer (SO_PEERCRED), from the native addon; the pure-JS
 * fallback cannot ask the kernel and says so (-EOPNOTSUPP), and the receiver then identifies
 * socket senders the other ways. Both take the socket's file descriptor and fill `out` with
 * pid, uid, gid, returning 0 or a negative errno.
 */
export interface PeerCredentialReader {
  readonly implementation: 'native' | 'js';
  read(fd: number, out: Int32Array): number;
}

/** `read`'s answer without the addon: -EOPNOTSUPP. */
export const PEER_CREDENTIALS_UNSUPPORTED = -95;

interface PeerBinding {
  peerCredentials?(fd: number, out: Int32Array): number;
}

function check(fd: number, out: Int32Array): void {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a non-negative integer');
  if (!(out instanceof Int32Array) || out.length < 3) throw new TypeError('out must be an Int32Array of at least 3');
}

export class JsPeerCredentials implements PeerCredentialReader {
  readonly implementation = 'js' as const;
  read(fd: number, out: Int32Array): number {
    check(fd, out);
    return PEER_CREDENTIALS_UNSUPPORTED;
  }
}

class NativePeerCredentials implements PeerCredentialReader {
  readonly implementation = 'native' as const;
  readonly #read: (fd: number, out: Int32Array) => number;
  constructor(read: (fd: number, out: Int32Array) => number) {
    this.#read = read;
  }
  read(fd: number, out: Int32Array): number {
    check(fd, out);
    return this.#read(fd, out);
  }
}

/** The addon's reader when it loads and `native` allows it, else the fallback; one log line either way. */
export function loadPeerCredentials(options: { readonly native: boolean; readonly logger: Logger }): PeerCredentialReader {
  if (options.native) {
    try {
      const binding = requireAddon<PeerBinding>();
      const fn = binding.peerCredentials;
      if (typeof fn === 'function') {
        options.logger.debug({ implementation: 'native' }, 'socket peer credentials: native addon');
        return new NativePeerCredentials(fn);
      }
    } catch {
      // The /proc reader already logged why the addon does not load.
    }
  }
  options.logger.info({ implementation: 'js' }, 'socket peer credentials: not available without the native addon; unix-socket senders are identified by their resource only');
  return new JsPeerCredentials();
}

/** The file descriptor under a net.Socket (Node keeps it on the handle; undefined once closed). */
export function socketFd(socket: object): number | undefined {
  const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
