/**
 * What a container runtime tells Sextant about its containers, in one shape for Docker (Engine
 * API) and for containerd / CRI-O (CRI v1). The runtime clients fill it; the metadata cache
 * (metadata-cache.ts) merges them, keeps it current from events and list diffs, and shares it
 * with the container metrics source and the log source. Cgroup files give the numbers; this
 * gives the names.
 */

/** `container.runtime.name` values. */
export type RuntimeName = 'docker' | 'containerd' | 'cri-o';

/** The runtime's own state words mapped to four: paused counts as running (its cgroup is live). */
export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface PodInfo {
  /** `k8s.pod.uid`, with dashes as the API writes it. */
  readonly uid: string;
  /** `k8s.pod.name`. */
  readonly name: string;
  /** `k8s.namespace.name`. */
  readonly namespace: string;
  /** The CRI sandbox id (the pause container's id under Docker's dockershim/cri-dockerd). */
  readonly sandboxId?: string;
  /** CRI `log_directory`: `/var/log/pods/<ns>_<name>_<uid>` on a kubelet node. */
  readonly logDirectory?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ContainerLimits {
  /** Bytes; undefined when unlimited. */
  readonly memoryBytes?: number;
  /** CPUs (quota ÷ period, or Docker's NanoCpus ÷ 1e9); undefined when unlimited. */
  readonly cpus?: number;
  /** Undefined when unlimited. */
  readonly pids?: number;
}

export interface ContainerInfo {
  /** 64 lower-case hex, as cgroup paths and log paths name it. */
  readonly id: string;
  readonly runtime: RuntimeName;
  /**
   * A pod's sandbox (the pause container, or CRI-O's infra container): its cgroup belongs to the
   * pod and its network namespace is the pod's, but it is not reported as a container.
   */
  readonly sandbox?: boolean;
  /**
   * Docker: the name without its leading `/`. CRI: the container's metadata name (the name in
   * the pod spec, `k8s.container.name`).
   */
  readonly name: string;
  /** `container.image.name`: the reference without tag or digest (`docker.io/library/nginx`). */
  readonly imageName?: string;
  /** `container.image.tags`: the tag(s) the container was started from (`["1.27"]`). */
  readonly imageTags?: readonly string[];
  /** The image's content id (`sha256:…`). */
  readonly imageId?: string;
  readonly state: ContainerState;
  /** Host pid of the container's first process while it runs (as the host's /proc numbers it). */
  readonly pid?: number;
  readonly createdAtUnixNano?: bigint;
  readonly startedAtUnixNano?: bigint;
  readonly finishedAtUnixNano?: bigint;
  /** Set once the container has exited. */
  readonly exitCode?: number;
  /** Why it exited as the runtime says it (`OOMKilled`, `Error`, `Completed`). */
  readonly exitReason?: string;
  readonly oomKilled?: boolean;
  /**
   * `k8s.container.restart_count`. CRI: the metadata attempt; Docker: `RestartCount` (the
   * engine's restarts under a restart policy) or, for a kubelet-managed container,
   * the `io.kubernetes.container.restartCount` annotation/label.
   */
  readonly restartCount: number;
  readonly labels: Readonly<Record<string, string>>;
  /** CRI annotations; empty for Docker. */
  readonly annotations: Readonly<Record<string, string>>;
  /** Set for a container that belongs to a Kubernetes pod (CRI, or Docker with `io.kubernetes.*` labels). */
  readonly pod?: PodInfo;
  readonly limits?: ContainerLimits;
  /** Where the runtime writes this container's log (Docker json-file `LogPath`, CRI `log_path` joined to the pod's log directory). */
  readonly logPath?: string;
}

/** What a runtime reports happened to a container. */
export type RuntimeEventKind = 'create' | 'start' | 'exit' | 'oom' | 'restart' | 'destroy';

export interface RuntimeEvent {
  readonly kind: RuntimeEventKind;
  readonly runtime: RuntimeName;
  readonly id: string;
  /** When the runtime says it happened; 0n when it did not say. */
  readonly timeUnixNano: bigint;
  /** `exit`: the exit code when the event carries it. */
  readonly exitCode?: number;
}

/** Returned by `RuntimeClient.watch`: stops the stream. */
export interface RuntimeWatch {
  close(): void;
}

/**
 * One runtime socket. Every call takes an AbortSignal and must settle promptly when it aborts
 * (the cache gives each call a deadline, so a hung runtime never stalls a collection cycle).
 * Errors are `RuntimeError`s (src/errors.ts) with a `reason` the cache acts on.
 */
export interface RuntimeClient {
  readonly runtime: RuntimeName;
  readonly socketPath: string;
  /**
   * Every container the runtime knows, running and exited, with what inspecting it gives (pid,
   * restart count, limits). A client may reuse an earlier inspection of a container whose list
   * entry did not change (same state, same creation time); `invalidate(id)` forces a fresh one.
   */
  list(signal: AbortSignal): Promise<ContainerInfo[]>;
  /** One container, freshly inspected; undefined when the runtime does not know it (any more). */
  inspect(id: string, signal: AbortSignal): Promise<ContainerInfo | undefined>;
  /** Forget what was cached about one container (an event said it changed). */
  invalidate(id: string): void;
  /**
   * Runtimes with an event stream (Docker) push events; `onEnd` is called once when the stream
   * ends for any reason (runtime restarted, socket gone, error), with that reason. The caller
   * reconnects (with backoff) and relists, so the client keeps no reconnect logic of its own.
   * Runtimes without a usable stream leave this undefined: the cache diffs successive lists.
   */
  watch?(onEvent: (event: RuntimeEvent) => void, onEnd: (err: Error | undefined) => void): RuntimeWatch;
  close(): void;
}
