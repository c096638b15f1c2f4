import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import grpc from '@grpc/grpc-js';
import { CriClient } from '../../dist/sources/container/cri-client.js';

/**
 * The soak's CRI driver: pods and containers made the way kubelet makes them (sandbox with a
 * pod-level cgroup parent, host network, logs under /var/log/pods/<ns>_<pod>_<uid>/), and log
 * rotation the way kubelet rotates: rename `0.log` to `0.log.<YYYYMMDD-HHMMSS>`, then
 * ReopenContainerLog so the runtime opens a new `0.log`. Removes what it made, pod cgroup dirs
 * included (containerd leaves them; kubelet removes them on a node).
 */

const NOT_FOUND = 5;

export class CriDriver {
  #client;
  #raw;
  #image;
  #pods = new Map();
  #cgroupRoot = '/sys/fs/cgroup';

  constructor({ socketPath, image }) {
    this.#client = new CriClient({ socketPath, runtime: 'containerd', callTimeoutMs: 20_000 });
    // ReopenContainerLog is not in the agent's CRI subset (the agent only reads): a raw call.
    this.#raw = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
    this.#image = image;
  }

  async #call(method, request) {
    return await this.#client.call(method, request, AbortSignal.timeout(20_000));
  }

  async #quiet(method, request) {
    try {
      await this.#call(method, request);
    } catch (err) {
      if (err?.cause?.code !== NOT_FOUND) throw err;
    }
  }

  async runPod({ name, namespace, uid }) {
    const logDirectory = `/var/log/pods/${namespace}_${name}_${uid}`;
    const cgroupParent = `/kubepods/burstable/pod${uid}`;
    await mkdir(logDirectory, { recursive: true });
    const sandboxConfig = {
      metadata: { name, uid, namespace, attempt: 0 },
      hostname: '',
      logDirectory,
      labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': uid, 'io.sextant.test': '1' },
      annotations: {},
      linux: { cgroupParent, securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const resp = await this.#call('RunPodSandbox', { config: sandboxConfig });
    const podId = String(resp.podSandboxId);
    this.#pods.set(podId, { sandboxConfig, logDirectory, cgroupParent, containers: new Set() });
    return podId;
  }

  /** Creates and starts a container; returns its id and the directory its `<attempt>.log` files are in. */
  async addContainer(podId, { name, command, memoryLimitBytes }) {
    const pod = this.#pods.get(podId);
    const meta = pod.sandboxConfig.metadata;
    const resources = memoryLimitBytes === undefined ? {} : { memoryLimitInBytes: memoryLimitBytes };
    const config = {
      metadata: { name, attempt: 0 },
      image: { image: this.#image },
      command,
      labels: { 'io.kubernetes.container.name': name, 'io.kubernetes.pod.name': meta.name, 'io.kubernetes.pod.namespace': meta.namespace, 'io.kubernetes.pod.uid': meta.uid },
      annotations: { 'io.kubernetes.container.restartCount': '0' },
      logPath: `${name}/0.log`,
      linux: { resources, securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const created = await this.#call('CreateContainer', { podSandboxId: podId, config, sandboxConfig: pod.sandboxConfig });
    const id = String(created.containerId);
    pod.containers.add(id);
    await this.#call('StartContainer', { containerId: id });
    return { id, logDir: `${pod.logDirectory}/${name}` };
  }

  /** SIGKILL now (timeout 0), as kubelet does past the grace period. */
  async stopContainer(id) {
    await this.#quiet('StopContainer', { containerId: id, timeout: 0 });
  }

  async removeContainer(id) {
    await this.stopContainer(id);
    await this.#quiet('RemoveContainer', { containerId: id });
    for (const pod of this.#pods.values()) pod.containers.delete(id);
  }

  /** The runtime's view: state (CONTAINER_EXITED = 2), exit code and reason. */
  async status(id) {
    const r = await this.#call('ContainerStatus', { containerId: id });
    const s = r.status ?? {};
    return { state: s.state, exitCode: s.exitCode, reason: s.reason };
  }

  /** kubelet's rotation: rename the live file away, then ask the runtime to reopen its log. */
  async rotate(logDir, id, stamp) {
    await rename(`${logDir}/0.log`, `${logDir}/0.log.${stamp}`);
    await this.#reopen(id);
  }

  #reopen(id) {
    const idBytes = Buffer.from(id, 'utf8');
    // ReopenContainerLogRequest { string container_id = 1; }: tag 0x0a, length, bytes (id < 128 bytes).
    const body = Buffer.concat([Buffer.from([0x0a, idBytes.length]), idBytes]);
    return new Promise((resolve, reject) => {
      this.#raw.makeUnaryRequest(
        '/runtime.v1.RuntimeService/ReopenContainerLog',
        (b) => b,
        (b) => b,
        body,
        { deadline: Date.now() + 20_000 },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  async removePod(podId) {
    const pod = this.#pods.get(podId);
    for (const id of [...(pod?.containers ?? [])]) await this.removeContainer(id).catch(() => undefined);
    await this.#quiet('StopPodSandbox', { podSandboxId: podId }).catch(() => undefined);
    await this.#quiet('RemovePodSandbox', { podSandboxId: podId }).catch(() => undefined);
    this.#pods.delete(podId);
    if (pod === undefined) return;
    await rm(pod.logDirectory, { recursive: true, force: true });
    await this.#removeCgroupDirs(pod.cgroupParent);
  }

  async close() {
    for (const podId of [...this.#pods.keys()]) await this.removePod(podId).catch(() => undefined);
    this.#client.close();
    this.#raw.close();
  }

  /** rmdir the pod's cgroup in every hierarchy; a busy one is retried briefly, then left for teardown.sh. */
  async #removeCgroupDirs(cgroupParent) {
    let hierarchies = [];
    try {
      hierarchies = await readdir(this.#cgroupRoot);
    } catch {
      return;
    }
    for (const h of hierarchies) {
      const dir = `${this.#cgroupRoot}/${h}${cgroupParent}`;
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          if (err.code !== 'EBUSY' && err.code !== 'ENOTEMPTY') break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }
}
