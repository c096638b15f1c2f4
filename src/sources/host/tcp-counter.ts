import { statSync } from 'node:fs';

/**
 * How the host source counts TCP connections by state: over netlink (NETLINK_SOCK_DIAG, through
 * the native reader) or by reading /proc/net/tcp{,6}. Netlink answers for the namespace of the
 * socket the agent opens — its OWN network namespace — while the files are read from the
 * namespace the source reports on (`<hostRoot>/proc/1/net`, the host's, under a host root). So
 * netlink is used only when the two are the same namespace: an agent with hostNetwork, or on
 * the host itself. A pod without hostNetwork keeps reading the host's files.
 */
export type TcpCounter = 'netlink' | 'files';

/** A namespace's identity: the device and inode of its nsfs file (`/proc/<pid>/ns/net`). */
export interface NamespaceId {
  readonly dev: bigint;
  readonly ino: bigint;
}

export interface TcpCounterChoice {
  readonly counter: TcpCounter;
  /** Why, for the one log line that reports the choice. */
  readonly reason: string;
}

/**
 * The decision, apart from the stat calls so tests can inject any pair. `undefined` is a
 * namespace that could not be stat'ed (no permission to look at pid 1, no /proc): cannot tell,
 * so the files, which are right whatever namespace the agent is in.
 */
export function chooseTcpCounter(own: NamespaceId | undefined, target: NamespaceId | undefined): TcpCounterChoice {
  if (own === undefined || target === undefined) return { counter: 'files', reason: 'network namespace cannot be compared' };
  if (own.dev !== target.dev || own.ino !== target.ino) return { counter: 'files', reason: 'agent runs in another network namespace than the one reported on' };
  return { counter: 'netlink', reason: 'agent runs in the network namespace reported on' };
}

/** The namespace a `/proc/<pid>/ns/<type>` file names, or undefined when it cannot be stat'ed. */
export function namespaceId(nsFile: string): NamespaceId | undefined {
  try {
    const st = statSync(nsFile, { bigint: true, throwIfNoEntry: false });
    return st === undefined ? undefined : { dev: st.dev, ino: st.ino };
  } catch {
    return undefined; // EACCES: pid 1's namespaces need ptrace read access
  }
}
