import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createResource, type Resource } from '../model/index.js';

/** OTel `host.arch` values for Node's `process.arch`. */
const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

async function firstLine(file: string): Promise<string | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    const line = text.split('\n', 1)[0]!.trim();
    return line === '' ? undefined : line;
  } catch {
    return undefined;
  }
}

/**
 * The host resource, read once at start. Under a host root other than `/` (the DaemonSet mounts
 * the node at `/host`) the node's own files name it, not the container's UTS namespace.
 */
export async function hostResource(hostRoot: string): Promise<Resource> {
  const underRoot = path.resolve(hostRoot) !== '/';
  const name = (underRoot ? await firstLine(path.join(hostRoot, 'etc/hostname')) : undefined) ?? os.hostname();
  const machineId = await firstLine(path.join(hostRoot, 'etc/machine-id'));
  const kernel = await firstLine(path.join(hostRoot, 'proc/sys/kernel/osrelease'));
  return createResource({
    'host.name': name,
    ...(machineId ? { 'host.id': machineId } : {}),
    'host.arch': ARCH[process.arch] ?? process.arch,
    'os.type': 'linux',
    ...(kernel ? { 'os.version': kernel } : {}),
  });
}
