import type { ContainerInfo, RuntimeClient } from '../../src/sources/container/types.js';

/** A containerd runtime whose containers the test sets: lists and inspects answer from them. */
export class ScriptedRuntime implements RuntimeClient {
  readonly runtime = 'containerd' as const;
  readonly socketPath = '/run/containerd/containerd.sock';
  containers: ContainerInfo[] = [];
  async list(): Promise<ContainerInfo[]> {
    return [...this.containers];
  }
  async inspect(id: string): Promise<ContainerInfo | undefined> {
    return this.containers.find((c) => c.id === id);
  }
  invalidate(): void {}
  close(): void {}
}
