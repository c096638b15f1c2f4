import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { CriClient } from '../../src/sources/container/cri-client.js';
import type { RuntimeError } from '../../src/errors.js';

/**
 * Test-only pod admin over the real CRI socket (test/runtimes/setup.sh's containerd): creates
 * pods the way kubelet would — a sandbox with a pod-level cgroup parent and log directory, then
 * containers with limits and kubelet's labels — and removes them again. No CNI on the test
 * machines, so every pod uses the host network namespace (NODE), which needs an empty hostname.
 *
 *   const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
 *   const { podId, containerIds } = await pods.runPod({ name: 'p1', namespace: 'ns', uid, containers: [...] });
 *   afterAll(() => pods.close());   // removes every pod it made, then closes the connection
 */

export interface PodContainerSpec {
  readonly name: string;
  /** The container's command (busybox applets: `sleep`, `sh -c '...'`, `dd`). */
  readonly command: readonly string[];
  readonly memoryLimitBytes?: number;
  /** CFS quota in µs per `cpuPeriod` (default period 100000 when a quota is given). */
  readonly cpuQuota?: number;
  readonly cpuPeriod?: number;
  /** CRI metadata attempt (the restart count); default 0. */
  readonly attempt?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Start it after creating it (default true). */
  readonly start?: boolean;
  /** Environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Bind mounts (host path → container path). */
  readonly mounts?: readonly { readonly hostPath: string; readonly containerPath: string; readonly readonly?: boolean }[];
}

export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  /** Pod uid with dashes, as the API writes it. */
  readonly uid: string;
  /** Default `$CRI_ROOT/pods/<ns>_<name>_<uid>` (kubelet: `/var/log/pods/<ns>_<name>_<uid>`). */
  readonly logDirectory?: string;
  /** cgroupfs syntax; default `/kubepods/burstable/pod<uid>`. */
  readonly cgroupParent?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly containers: readonly PodContainerSpec[];
}

export interface RunningPod {
  readonly podId: string;
  /** In the order of `spec.containers`. */
  readonly containerIds: string[];
  readonly logDirectory: string;
  readonly cgroupParent: string;
}

export interface CriPodsOptions {
  readonly socketPath: string;
  /** `CRI_ROOT` from test/runtimes/setup.sh: default log directories go under `<criRoot>/pods/`. */
  readonly criRoot: string;
  /** Default `docker.io/sextant-test/busybox:latest`. */
  readonly image?: string;
  /** Per-call limit (default 20 s: a loaded 2-core VM can take seconds to start a sandbox). */
  readonly callTimeoutMs?: number;
  /** Where the cgroup hierarchies are mounted (default /sys/fs/cgroup). */
  readonly cgroupRoot?: string;
}

interface PodRecord {
  readonly sandboxConfig: Record<string, unknown>;
  readonly containerIds: string[];
  readonly logDirectory: string;
  readonly ownLogDirectory: boolean;
  readonly cgroupParent: string;
}

const DEFAULT_IMAGE = 'docker.io/sextant-test/busybox:latest';

export class CriPods {
  readonly #client: CriClient;
  readonly #criRoot: string;
  readonly #image: string;
  readonly #timeoutMs: number;
  readonly #cgroupRoot: string;
  readonly #pods = new Map<string, PodRecord>();

  constructor(options: CriPodsOptions) {
    this.#timeoutMs = options.callTimeoutMs ?? 20_000;
    this.#client = new CriClient({ socketPath: options.socketPath, runtime: 'containerd', callTimeoutMs: this.#timeoutMs });
    this.#criRoot = options.criRoot;
    this.#image = options.image ?? DEFAULT_IMAGE;
    this.#cgroupRoot = options.cgroupRoot ?? '/sys/fs/cgroup';
  }

  /** Creates the sandbox and its containers (started unless `start: false`); on failure removes what it made. */
  async runPod(spec: PodSpec): Promise<RunningPod> {
    const logDirectory = spec.logDirectory ?? `${this.#criRoot}/pods/${spec.namespace}_${spec.name}_${spec.uid}`;
    const cgroupParent = spec.cgroupParent ?? `/kubepods/burstable/pod${spec.uid}`;
    await mkdir(logDirectory, { recursive: true });
    const sandboxConfig: Record<string, unknown> = {
      metadata: { name: spec.name, uid: spec.uid, namespace: spec.namespace, attempt: 0 },
      hostname: '',
      logDirectory,
      labels: {
        'io.kubernetes.pod.name': spec.name,
        'io.kubernetes.pod.namespace': spec.namespace,
        'io.kubernetes.pod.uid': spec.uid,
        ...spec.labels,
      },
      annotations: { ...spec.annotations },
      linux: {
        cgroupParent,
        securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
    const resp = await this.#call('RunPodSandbox', { config: sandboxConfig });
    const podId = String(resp['podSandboxId']);
    const record: PodRecord = {
      sandboxConfig,
      containerIds: [],
      logDirectory,
      ownLogDirectory: spec.logDirectory === undefined,
      cgroupParent,
    };
    this.#pods.set(podId, record);
    try {
      for (const container of spec.containers) await this.addContainer(podId, container);
    } catch (err) {
      await this.removePod(podId).catch(() => undefined);
      throw err;
    }
    return { podId, containerIds: [...record.containerIds], logDirectory, cgroupParent };
  }

  /**
   * Creates (and starts) one more container in a pod made here: a "restart" is the same name
   * with `attempt` one higher, as kubelet does it.
   */
  async addContainer(podId: string, spec: PodContainerSpec): Promise<string> {
    const pod = this.#pods.get(podId);
    if (pod === undefined) throw new Error(`CriPods: pod ${podId} was not created here`);
    const meta = pod.sandboxConfig['metadata'] as { name: string; namespace: string; uid: string };
    const attempt = spec.attempt ?? 0;
    const resources: Record<string, number> = {};
    if (spec.cpuQuota !== undefined) {
      resources['cpuQuota'] = spec.cpuQuota;
      resources['cpuPeriod'] = spec.cpuPeriod ?? 100_000;
    } else if (spec.cpuPeriod !== undefined) resources['cpuPeriod'] = spec.cpuPeriod;
    if (spec.memoryLimitBytes !== undefined) resources['memoryLimitInBytes'] = spec.memoryLimitBytes;
    const config = {
      metadata: { name: spec.name, attempt },
      image: { image: this.#image },
      command: [...spec.command],
      envs: Object.entries(spec.env ?? {}).map(([key, value]) => ({ key, value })),
      mounts: (spec.mounts ?? []).map((m) => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly === true })),
      labels: {
        'io.kubernetes.container.name': spec.name,
        'io.kubernetes.pod.name': meta.name,
        'io.kubernetes.pod.namespace': meta.namespace,
        'io.kubernetes.pod.uid': meta.uid,
        ...spec.labels,
      },
      annotations: { 'io.kubernetes.container.restartCount': String(attempt), ...spec.annotations },
      logPath: `${spec.name}/${attempt}.log`,
      linux: {
        resources,
        securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
    const created = await this.#call('CreateContainer', { podSandboxId: podId, config, sandboxConfig: pod.sandboxConfig });
    const id = String(created['containerId']);
    pod.containerIds.push(id);
    if (spec.start !== false) await this.#call('StartContainer', { containerId: id });
    return id;
  }

  /** Stops and removes a container (already gone is fine). */
  async removeContainer(containerId: string): Promise<void> {
    await this.#quiet(this.#call('StopContainer', { containerId, timeout: 0 }));
    await this.#quiet(this.#call('RemoveContainer', { containerId }));
    for (const pod of this.#pods.values()) {
      const i = pod.containerIds.indexOf(containerId);
      if (i !== -1) pod.containerIds.splice(i, 1);
    }
  }

  /**
   * Stops and removes the pod's containers, then its sandbox, then a default log directory and
   * the pod-level cgroup dirs (kubelet's job on a node: containerd leaves them behind).
   */
  async removePod(podId: string): Promise<void> {
    const pod = this.#pods.get(podId);
    for (const id of [...(pod?.containerIds ?? [])]) await this.removeContainer(id);
    // StopPodSandbox kills what is left; RemovePodSandbox also removes containers we did not track.
    await this.#quiet(this.#call('StopPodSandbox', { podSandboxId: podId }));
    await this.#quiet(this.#call('RemovePodSandbox', { podSandboxId: podId }));
    this.#pods.delete(podId);
    if (pod === undefined) return;
    if (pod.ownLogDirectory) await rm(pod.logDirectory, { recursive: true, force: true });
    await this.#removeCgroupDirs(pod.cgroupParent);
  }

  /** Removes every pod created here that is still around, then closes the connection. */
  async close(): Promise<void> {
    for (const podId of [...this.#pods.keys()]) await this.removePod(podId).catch(() => undefined);
    this.#client.close();
  }

  /** The underlying client (for calls this helper does not wrap). */
  get client(): CriClient {
    return this.#client;
  }

  /**
   * rmdir `<hierarchy><cgroupParent>` in every mounted hierarchy (v1 controllers, named systemd,
   * unified). rmdir only removes an empty cgroup; one still busy (its last process exiting) is
   * retried briefly, then left for test/runtimes/teardown.sh.
   */
  async #removeCgroupDirs(cgroupParent: string): Promise<void> {
    if (!cgroupParent.startsWith('/') || cgroupParent.includes('..') || cgroupParent.split('/').length < 3) return;
    let hierarchies: string[];
    try {
      hierarchies = await readdir(this.#cgroupRoot);
    } catch {
      return;
    }
    for (const h of hierarchies) {
      const dir = `${this.#cgroupRoot}/${h}${cgroupParent}`;
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EBUSY' && code !== 'ENOTEMPTY') break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
  }

  async #call(method: Parameters<CriClient['call']>[0], request: Record<string, unknown>): Promise<Record<string, unknown>> {
    return (await this.#client.call(method, request, AbortSignal.timeout(this.#timeoutMs))) as unknown as Record<string, unknown>;
  }

  /** Cleanup calls: NOT_FOUND (already gone) is success; other failures surface. */
  async #quiet(call: Promise<unknown>): Promise<void> {
    try {
      await call;
    } catch (err) {
      const cause = (err as RuntimeError).cause as { code?: number } | undefined;
      if (cause?.code === 5 /* NOT_FOUND */) return;
      throw err;
    }
  }
}
