import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogDiscovery } from '../../../../src/sources/logs/log-discovery.js';
import { until } from '../../../helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'sextant-logdisc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let roots = 0;
const ID = 'ab'.repeat(32);
const POD = 'shop_web-7d9_5f0c6a3e-2b1d-4c8e-9f7a-0123456789ab';

function host(): { root: string; file: (p: string, text?: string) => string } {
  const root = join(tmp, `h${roots++}`);
  mkdirSync(root);
  return {
    root,
    file: (p, text = 'x\n') => {
      const full = join(root, p);
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, text);
      return full;
    },
  };
}

const rel = (root: string, files: { path: string; format: string; rotated?: boolean; compressed?: boolean }[]): string[] =>
  files.map((f) => `${f.format}${f.rotated ? ' rotated' : ''}${f.compressed ? ' compressed' : ''} ${f.path.slice(root.length)}`).sort();

describe('LogDiscovery.scan', () => {
  it('finds live CRI and json-file logs, rotated and compressed ones marked as such, never other files', async () => {
    const h = host();
    h.file(`var/log/pods/${POD}/web/0.log`);
    h.file(`var/log/pods/${POD}/web/1.log`);
    h.file(`var/log/pods/${POD}/web/0.log.20261125-101500`);
    h.file(`var/log/pods/${POD}/web/0.log.20261125-101500.gz`);
    h.file(`var/log/pods/${POD}/sidecar/0.log`);
    h.file(`var/log/pods/${POD}/web/notes.txt`);
    h.file(`var/lib/docker/containers/${ID}/${ID}-json.log`);
    h.file(`var/lib/docker/containers/${ID}/${ID}-json.log.1`);
    h.file(`var/lib/docker/containers/${ID}/${ID}-json.log.2.gz`);
    h.file(`var/log/pods/${POD}/web/0.log.20261125-101400.gz.tmp`);
    h.file(`var/lib/docker/containers/${ID}/config.v2.json`);
    h.file(`var/lib/docker/containers/not-an-id/not-an-id-json.log`);
    const r = await new LogDiscovery({ hostRoot: h.root }).scan();
    expect(rel(h.root, r.files)).toEqual(
      [
        `cri /var/log/pods/${POD}/sidecar/0.log`,
        `cri /var/log/pods/${POD}/web/0.log`,
        `cri /var/log/pods/${POD}/web/1.log`,
        `cri rotated /var/log/pods/${POD}/web/0.log.20261125-101500`,
        `cri rotated compressed /var/log/pods/${POD}/web/0.log.20261125-101500.gz`,
        `docker-json /var/lib/docker/containers/${ID}/${ID}-json.log`,
        `docker-json rotated /var/lib/docker/containers/${ID}/${ID}-json.log.1`,
        `docker-json rotated compressed /var/lib/docker/containers/${ID}/${ID}-json.log.2.gz`,
      ].sort(),
    );
    expect([r.refused, r.unreadable, r.truncated]).toEqual([0, 0, false]);
  });

  it('plain globs: `*` within one segment, hidden files only when asked for', async () => {
    const h = host();
    h.file('var/log/app/a.log');
    h.file('var/log/app/b.log');
    h.file('var/log/app/.hidden.log');
    h.file('var/log/app/c.txt');
    h.file('var/log/svc/one/out.log');
    h.file('var/log/svc/two/out.log');
    const r = await new LogDiscovery({ hostRoot: h.root, podLogDirs: [], dockerDirs: [], globs: ['/var/log/app/*.log', '/var/log/svc/*/out.log'] }).scan();
    expect(rel(h.root, r.files)).toEqual(['plain /var/log/app/a.log', 'plain /var/log/app/b.log', 'plain /var/log/svc/one/out.log', 'plain /var/log/svc/two/out.log']);
  });

  it('a link resolving inside the roots is followed; one resolving outside is refused and counted', async () => {
    const h = host();
    const secret = h.file('etc/shadow', 'root:$6$secret\n');
    const real = h.file(`var/log/pods/${POD}/web/0.log`);
    mkdirSync(join(h.root, 'var/log/app'), { recursive: true });
    symlinkSync(secret, join(h.root, 'var/log/app/evil.log'));
    symlinkSync(real, join(h.root, 'var/log/app/ok.log'));
    symlinkSync(join(h.root, 'nowhere'), join(h.root, 'var/log/app/dangling.log'));
    // A planted link in a pod's directory, named like a CRI log.
    symlinkSync(secret, join(h.root, `var/log/pods/${POD}/web/2.log`));
    const r = await new LogDiscovery({ hostRoot: h.root, globs: ['/var/log/app/*.log'] }).scan();
    expect(r.refused).toBe(2);
    const paths = r.files.map((f) => f.realPath);
    expect(paths).not.toContain(secret);
    expect(r.files.find((f) => f.path.endsWith('ok.log'))?.realPath).toBe(real);
  });

  it('missing roots are not errors; an unreadable directory is counted', async () => {
    const h = host();
    expect((await new LogDiscovery({ hostRoot: h.root }).scan()).files).toEqual([]);
    h.file(`var/log/pods/${POD}/web/0.log`);
    const locked = join(h.root, `var/log/pods/${POD}`);
    chmodSync(locked, 0o000);
    try {
      const r = await new LogDiscovery({ hostRoot: h.root }).scan();
      // root reads through mode 000 (CAP_DAC_OVERRIDE); as another user the dir is unreadable.
      expect(r.unreadable + r.files.length).toBe(1);
    } finally {
      chmodSync(locked, 0o755);
    }
  });

  it('bounded: at most maxFiles per scan, and says so', async () => {
    const h = host();
    for (let i = 0; i < 30; i++) h.file(`var/log/pods/ns_p${i}_u${i}/c/0.log`);
    const r = await new LogDiscovery({ hostRoot: h.root, maxFiles: 10 }).scan();
    expect(r.files).toHaveLength(10);
    expect(r.truncated).toBe(true);
  });
});

describe('LogDiscovery.watch', () => {
  it('a new pod directory and a new log file give a hint within moments (coalesced)', async () => {
    const h = host();
    mkdirSync(join(h.root, 'var/log/pods'), { recursive: true });
    const d = new LogDiscovery({ hostRoot: h.root });
    let hints = 0;
    d.watch([], () => hints++);
    try {
      h.file(`var/log/pods/${POD}/web/0.log`);
      await until('a hint', () => hints > 0, 1_000);
      expect(hints).toBe(1);
      const found = await d.scan();
      expect(found.files).toHaveLength(1);
      // Watch the pod's container directory too: a restart's 1.log is then a hint.
      d.watch([join(h.root, `var/log/pods/${POD}/web`)], () => hints++);
      h.file(`var/log/pods/${POD}/web/1.log`);
      await until('a second hint', () => hints > 1, 1_000);
      expect(hints).toBe(2);
    } finally {
      d.unwatch();
    }
  });
});
