import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * An OOM kill the runtime cannot miss, for tests that assert the runtime reports it.
 *
 * containerd's runc shim before 2.2 (1.6.20 here, behind both the CRI containerd and dockerd 20.10)
 * starts watching a container's memory cgroup for OOM only after `runc start` has returned: a
 * process that fills its limit in the milliseconds before that is killed by the kernel (exit 137)
 * but no `/tasks/oom` event is ever published, so CRI answers reason `Error` and Docker
 * `OOMKilled: false` (containerd/containerd#8180; since 2.2 the shim registers the watcher at
 * create, #12405). A bare `dd bs=64M` under a 32 MiB limit is usually OOM-killed 3 to 60 ms after
 * the shim's start event on the 2-core test VM; in 40 starts on each runtime, one was killed
 * before it. A client cannot make up for it afterwards: containerd removes the container's cgroup,
 * with its oom_kill counter, within ~20 ms of the exit, and cgroup v1 does not count the kill in
 * the pod's cgroup.
 *
 * The gate takes the race out: the container waits for a file in a bind-mounted host directory
 * before it allocates, and the test opens the gate once the runtime's start call has returned —
 * the shim answers Start only after it has registered the watcher.
 *
 *   const gate = await OomGate.create();
 *   const command = gate.command('exec dd if=/dev/zero of=/dev/null bs=64M count=1');
 *   // CRI: mounts: [gate.mount]; Docker: HostConfig.Binds: [gate.bind]
 *   ... start the container ...
 *   await gate.open();
 *   afterAll(() => gate.remove());
 */
export class OomGate {
  /** Where the gate directory is mounted inside the container. */
  static readonly containerDir = '/sextant-oom-gate';

  readonly #hostDir: string;

  private constructor(hostDir: string) {
    this.#hostDir = hostDir;
  }

  static async create(): Promise<OomGate> {
    return new OomGate(await mkdtemp(path.join(tmpdir(), 'sx-oom-gate-')));
  }

  /** The container's command: a busybox shell that waits for the gate, then runs `script`. */
  command(script: string): string[] {
    return ['sh', '-c', `until [ -e ${OomGate.containerDir}/open ]; do sleep 0.05; done; ${script}`];
  }

  /** The bind mount for a CRI container spec (test/helpers/cri-pods.ts). */
  get mount(): { hostPath: string; containerPath: string; readonly: boolean } {
    return { hostPath: this.#hostDir, containerPath: OomGate.containerDir, readonly: true };
  }

  /** The bind mount for Docker's HostConfig.Binds. */
  get bind(): string {
    return `${this.#hostDir}:${OomGate.containerDir}:ro`;
  }

  /** Lets the waiting container allocate. Call only after the runtime's start call has returned. */
  async open(): Promise<void> {
    await writeFile(path.join(this.#hostDir, 'open'), '');
  }

  async remove(): Promise<void> {
    await rm(this.#hostDir, { recursive: true, force: true });
  }
}
