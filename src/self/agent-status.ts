/**
 * The body of the agent's `/status` (JSON): what `sextant top` needs beyond `/metrics`. Today
 * the per-file checkpoint lag of the log source — file paths, which never become metric labels.
 */

export interface FileLag {
  readonly path: string;
  /** Bytes in the file now. */
  readonly size: number;
  /** Offset up to which the endpoint acknowledged everything (the checkpoint). */
  readonly committed: number;
}

export interface AgentStatus {
  /** Bumped when a field changes meaning; `sextant top` ignores what it does not know. */
  readonly version: 1;
  readonly logs: { readonly lag: readonly FileLag[] } | null;
}

/** A source that can say how far behind its files are (the log source). */
interface LagReporter {
  checkpointLag(limit: number): Promise<FileLag[]>;
}

function isLagReporter(s: unknown): s is LagReporter {
  return typeof (s as Partial<LagReporter> | null)?.checkpointLag === 'function';
}

/** Files listed in `/status`, furthest behind first. */
export const STATUS_LAG_FILES = 10;

/** `startSelfServer`'s `status` dependency for the agent's sources. */
export function agentStatus(sources: readonly unknown[]): () => Promise<AgentStatus> {
  const logs = sources.find(isLagReporter);
  return async () => ({ version: 1, logs: logs === undefined ? null : { lag: await logs.checkpointLag(STATUS_LAG_FILES) } });
}
