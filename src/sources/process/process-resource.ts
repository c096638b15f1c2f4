import { type AttrValue, createResource, type Resource } from '../../model/index.js';
import type { ProcessDetails } from '../../native/types.js';
import { maskCommandLine } from './cmdline-mask.js';

/**
 * Resources of a process and of a group, built once each (the exporter caches the encoded bytes
 * on the object), on top of the host's attributes so every series names its node.
 */

/** Cuts `text` to at most `maxBytes` bytes of UTF-8 without splitting a character. */
export function capUtf8(text: string, maxBytes: number): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up to the start of the character the cut falls in (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

export interface ProcessFacts {
  readonly pid: number;
  readonly ppid: number;
  readonly details: ProcessDetails;
  readonly owner: string | undefined;
  readonly containerId: string | undefined;
  readonly kernel: boolean;
}

export function processResource(host: Resource, p: ProcessFacts, maxCmdlineBytes: number): Resource {
  const a: Record<string, AttrValue> = { ...host.attributes };
  a['process.pid'] = p.pid;
  a['process.parent_pid'] = p.ppid;
  a['process.executable.name'] = p.details.comm;
  if (p.details.exe !== undefined) a['process.executable.path'] = p.details.exe;
  const cmdline = p.details.cmdline;
  if (maxCmdlineBytes > 0 && cmdline !== undefined && cmdline.length > 0) {
    // A reader's byte cap can fall inside a character, which decodes to U+FFFD at the end.
    const whole = p.details.cmdlineTruncated && cmdline.endsWith('\ufffd') ? cmdline.slice(0, -1) : cmdline;
    // Masked before capping, so a secret cut by the cap cannot survive half-masked.
    a['process.command_line'] = capUtf8(maskCommandLine(whole), maxCmdlineBytes);
  }
  if (p.owner !== undefined) a['process.owner'] = p.owner;
  if (p.containerId !== undefined) a['container.id'] = p.containerId;
  if (p.kernel) a['sextant.process.kernel_thread'] = true;
  return createResource(a);
}

export const GROUP_KEY = 'sextant.process_group.key';

/** A named group: its key and the attributes the key is made of. */
export function groupResource(host: Resource, key: string, exeName: string, containerId: string | undefined, owner: string | undefined): Resource {
  const a: Record<string, AttrValue> = { ...host.attributes };
  a[GROUP_KEY] = key;
  a['process.executable.name'] = exeName;
  if (containerId !== undefined) a['container.id'] = containerId;
  if (owner !== undefined) a['process.owner'] = owner;
  return createResource(a);
}

/** All kernel threads, as one group: their names (kworker/3:1-events…) would fill the cap. */
export function kernelGroupResource(host: Resource): Resource {
  return createResource({ ...host.attributes, [GROUP_KEY]: 'kernel', 'sextant.process.kernel_thread': true });
}

/** Every process whose key found no room under the group cap. */
export function otherGroupResource(host: Resource): Resource {
  return createResource({ ...host.attributes, [GROUP_KEY]: 'other' });
}

/**
 * `resource` (built on `oldHost`) rebuilt on `newHost`: the host's attributes swapped, the
 * process's or group's own kept. Used when the host identity changes after resources were built
 * (a late inventory, a SIGHUP after a hostname change), so process series keep naming the host
 * exactly as the host series do.
 */
export function rebaseResource(resource: Resource, oldHost: Resource, newHost: Resource): Resource {
  const own: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(resource.attributes)) if (!(k in oldHost.attributes)) own[k] = v;
  return createResource({ ...newHost.attributes, ...own });
}
