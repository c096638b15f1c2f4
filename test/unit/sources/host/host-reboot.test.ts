import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { HostSource } from '../../../../src/sources/host/host-source.js';
import { BOOT_ID_FILE, REBOOT_EVENT } from '../../../../src/sources/host/reboot.js';
import { ArraySink } from '../../../helpers/array-sink.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/hosts');

const tmpDirs: string[] = [];
afterEach(async () => {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function hostWithBoot(host: string, root?: string): Promise<string> {
  root ??= await mkdtemp(path.join(os.tmpdir(), 'sextant-boot-'));
  if (!tmpDirs.includes(root)) tmpDirs.push(root);
  await mkdir(path.join(root, 'proc/sys/kernel/random'), { recursive: true });
  for (const f of ['stat', 'sys/kernel/random/boot_id']) await writeFile(path.join(root, 'proc', f), await readFile(path.join(FIXTURES, host, 'proc', f)));
  return root;
}

function source(root: string): HostSource {
  return new HostSource({ hostRoot: root }, { resource: createResource({ 'host.name': 'n1' }), registry: new Registry(), logger: silentLogger(), version: '0', clockTicks: 100 });
}

describe('reboot detection', () => {
  it('first run records the boot id; the same id emits nothing; a new id emits one event', async () => {
    const root = await hostWithBoot('h100-cgroup2');
    const state = path.join(root, 'state');
    const sink = new ArraySink();
    expect(await source(root).detectReboot(state, sink)).toEqual({ kind: 'first-run', bootId: '3756ced6-ad7a-473d-a31d-07c3d258dbc7' });
    expect(sink.events).toHaveLength(0);
    expect((await readFile(path.join(state, BOOT_ID_FILE), 'utf8')).trim()).toBe('3756ced6-ad7a-473d-a31d-07c3d258dbc7');
    expect((await source(root).detectReboot(state, sink)).kind).toBe('same-boot');
    expect(sink.events).toHaveLength(0);

    await hostWithBoot('vm-hybrid-docker', root); // the node came back with another boot id
    const r = await source(root).detectReboot(state, sink);
    expect(r).toEqual({ kind: 'rebooted', bootId: '611d5d97-e616-4586-a276-095a7161eea3', previousBootId: '3756ced6-ad7a-473d-a31d-07c3d258dbc7' });
    expect(sink.events).toHaveLength(1);
    const e = sink.events[0]!;
    expect(e.eventName).toBe(REBOOT_EVENT);
    expect(e.body).toBe('node rebooted');
    expect(e.attributes).toEqual({
      'sextant.host.boot_id': '611d5d97-e616-4586-a276-095a7161eea3',
      'sextant.host.boot_id.previous': '3756ced6-ad7a-473d-a31d-07c3d258dbc7',
      'sextant.host.boot_time': 1795497332,
    });
    expect(e.timeUnixNano).toBe(1795497332n * 1_000_000_000n);
    expect(e.resource.attributes['host.name']).toBe('n1');
    // Recorded: a restart of the agent on the same boot says nothing more.
    expect((await source(root).detectReboot(state, sink)).kind).toBe('same-boot');
    expect(sink.events).toHaveLength(1);
  });

  it('a damaged state file counts as a first run; no boot id means no verdict', async () => {
    const root = await hostWithBoot('h100-cgroup2');
    const state = path.join(root, 'state');
    await mkdir(state, { recursive: true });
    await writeFile(path.join(state, BOOT_ID_FILE), Buffer.from([0xff, 0x00, 0x41]));
    const sink = new ArraySink();
    expect((await source(root).detectReboot(state, sink)).kind).toBe('first-run');
    expect(sink.events).toHaveLength(0);
    const bare = await mkdtemp(path.join(os.tmpdir(), 'sextant-boot-'));
    tmpDirs.push(bare);
    expect(await source(bare).detectReboot(path.join(bare, 'state'), sink)).toEqual({ kind: 'unknown' });
  });

  it('reads the live kernel boot id', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sextant-boot-'));
    tmpDirs.push(dir);
    const r = await source('/').detectReboot(dir, new ArraySink());
    expect(r.kind).toBe('first-run');
    expect((await readFile(path.join(dir, BOOT_ID_FILE), 'utf8')).trim()).toBe((await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim());
  });
});
