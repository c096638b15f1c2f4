import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostIdentity, type HostInventory, hostAttributes, parseOsRelease, readInventory } from '../../../src/enrich/host-identity.js';
import type { Resource } from '../../../src/model/index.js';

const tmpDirs: string[] = [];
afterEach(async () => {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function hostRoot(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'sextant-id-'));
  tmpDirs.push(root);
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'proc/sys/kernel'), { recursive: true });
  await writeFile(path.join(root, 'etc/hostname'), 'node-7\n');
  await writeFile(path.join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  await writeFile(path.join(root, 'etc/os-release'), 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\n');
  await writeFile(path.join(root, 'proc/sys/kernel/osrelease'), '6.8.0-45-generic\n');
  return root;
}

describe('os-release', () => {
  it('unquotes values and ignores junk', () => {
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n# c\nID=debian\nX=\'single\'\nY="a \\"q\\" b"\nbad line\n=x\n')).toEqual({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      ID: 'debian',
      X: 'single',
      Y: 'a "q" b',
    });
    expect(() => parseOsRelease(Buffer.from([0xff, 0x3d, 0x22]).toString('utf8'))).not.toThrow();
  });
});

describe('host identity', () => {
  it('reads the node under a host root', async () => {
    const root = await hostRoot();
    expect(await hostAttributes(root)).toMatchObject({
      'host.name': 'node-7',
      'host.id': '0123456789abcdef0123456789abcdef',
      'os.type': 'linux',
      'os.description': 'Ubuntu 24.04.1 LTS',
      'os.version': '6.8.0-45-generic',
    });
  });

  it('is ready before the inventory, then grows once it arrives', async () => {
    const root = await hostRoot();
    let deliver!: (inv: HostInventory) => void;
    const id = await HostIdentity.create(root, { readInventory: () => new Promise((r) => (deliver = r)) });
    const seen: Resource[] = [];
    id.onChange((r) => seen.push(r));
    expect(id.resource.attributes['host.cpu.model.name']).toBeUndefined();
    deliver({ cpuModelName: 'Intel(R) Xeon(R)', cpuVendorId: 'GenuineIntel', cpuFamily: '6', cpuModelId: '207', cpuStepping: '2', cpuCacheL2Size: 2097152, memorySize: 1 << 30 });
    const r = await id.inventory();
    expect(r.attributes).toMatchObject({
      'host.name': 'node-7',
      'host.cpu.model.name': 'Intel(R) Xeon(R)',
      'host.cpu.vendor.id': 'GenuineIntel',
      'host.cpu.family': '6',
      'host.cpu.model.id': '207',
      'host.cpu.stepping': '2',
      'host.cpu.cache.l2.size': 2097152,
      'sextant.host.memory.size': 1 << 30,
    });
    expect(seen).toEqual([r]);
    expect(id.resource).toBe(r);
  });

  it('keeps the file-based resource when the inventory fails', async () => {
    const root = await hostRoot();
    const id = await HostIdentity.create(root, { readInventory: () => Promise.reject(new Error('no dmidecode')) });
    const r = await id.inventory();
    expect(r.attributes['host.name']).toBe('node-7');
    expect(r).toBe(id.resource);
  });

  it('reads the real inventory with systeminformation', async () => {
    const inv = await readInventory('/');
    expect(inv.memorySize).toBe(os.totalmem());
    expect(inv.cpuVendorId).toMatch(/^(GenuineIntel|AuthenticAMD|\w+)$/);
    expect(inv.cpuModelName).toBeTruthy();
  });
});
