import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEMD_DIR, UNIT_PATH } from './unit-file.js';
import { presentOrSkip } from '../../../helpers/ci-gate.js';

/**
 * deploy/systemd/install.sh against a throw-away root (--root): the files it makes, their
 * modes and owners, that a second run changes nothing it should keep, and that --dry-run
 * changes nothing at all. The real `/` install (daemon-reload, start) needs systemd as PID 1,
 * which these machines do not have.
 */

const SCRIPT = path.join(SYSTEMD_DIR, 'install.sh');
const isRoot = process.getuid?.() === 0;
const haveUseradd = spawnSync('sh', ['-c', 'command -v useradd && command -v groupadd'], { encoding: 'utf8' }).status === 0;
// --root chowns what it makes to the new account, and edits the account files with useradd --prefix.
const canInstall = presentOrSkip(isRoot, 'root', 'run the tests as root (.ci/run does)') && presentOrSkip(haveUseradd, 'useradd and groupadd', 'apt-get install passwd');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A target root with just the account files useradd --prefix edits, and a docker group or not. */
function makeRoot(tmp: string, dockerGroup: boolean): string {
  const root = mkdtempSync(path.join(tmp, 'root-'));
  mkdirSync(path.join(root, 'etc'));
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(path.join(root, 'etc/group'), `root:x:0:\n${dockerGroup ? 'docker:x:4242:\n' : ''}`);
  writeFileSync(path.join(root, 'etc/shadow'), '', { mode: 0o640 });
  writeFileSync(path.join(root, 'etc/gshadow'), '', { mode: 0o640 });
  return root;
}

/** A built checkout in miniature: what install.sh copies, without 300 MB of node_modules. */
function makeSource(tmp: string): string {
  const src = mkdtempSync(path.join(tmp, 'src-'));
  mkdirSync(path.join(src, 'dist/cli'), { recursive: true });
  mkdirSync(path.join(src, 'proto'));
  mkdirSync(path.join(src, 'node_modules/left-pad'), { recursive: true });
  writeFileSync(path.join(src, 'package.json'), '{"name":"sextant","version":"0.0.0-test"}\n');
  writeFileSync(path.join(src, 'dist/cli/sextant.js'), '#!/usr/bin/env node\n');
  writeFileSync(path.join(src, 'proto/x.proto'), 'syntax = "proto3";\n');
  writeFileSync(path.join(src, 'node_modules/left-pad/index.js'), 'module.exports = 1;\n');
  return src;
}

/** Every path under `root` with its mode, owner and (files) size, for before/after comparisons. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const s = lstatSync(p);
      out.push(`${path.relative(root, p)} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${e.isFile() ? s.size : ''}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

function idOf(root: string, file: 'passwd' | 'group', name: string): number {
  const line = readFileSync(path.join(root, 'etc', file), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`${name} not in ${file}`);
  return Number(line.split(':')[2]);
}

const mode = (p: string): string => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

describe.skipIf(!canInstall)('install.sh --root', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-install-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  let root: string;
  let src: string;
  let first: ReturnType<typeof run>;
  beforeAll(() => {
    root = makeRoot(tmp, true);
    src = makeSource(tmp);
    first = run(['--root', root, '--source', src, '--node', process.execPath]);
  });

  it('exits 0 and says what to configure', () => {
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/configure .*sextant\.env/);
  });

  it('creates a system user and group sextant with no login shell', () => {
    const line = readFileSync(path.join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('sextant:'))!;
    const [, , uid, , , home, shell] = line.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(uid)).toBeLessThan(1000);
    expect(home).toBe('/var/lib/sextant');
    expect(shell).toBe('/usr/sbin/nologin');
  });

  it('keeps secrets root-only: /etc/sextant 0700, sextant.env and token 0600, root:root', () => {
    for (const [p, m] of [
      ['etc/sextant', '0700'],
      ['etc/sextant/sextant.env', '0600'],
      ['etc/sextant/token', '0600'],
    ] as const) {
      const s = statSync(path.join(root, p));
      expect(mode(path.join(root, p)), p).toBe(m);
      expect([s.uid, s.gid], p).toEqual([0, 0]);
    }
    expect(readFileSync(path.join(root, 'etc/sextant/sextant.env'), 'utf8')).toBe(readFileSync(path.join(SYSTEMD_DIR, 'sextant.env.example'), 'utf8'));
    expect(readFileSync(path.join(root, 'etc/sextant/token'), 'utf8')).toBe('');
  });

  it('gives the state dir to sextant, 0700', () => {
    const s = statSync(path.join(root, 'var/lib/sextant'));
    expect(mode(path.join(root, 'var/lib/sextant'))).toBe('0700');
    expect([s.uid, s.gid]).toEqual([idOf(root, 'passwd', 'sextant'), idOf(root, 'group', 'sextant')]);
  });

  it('installs the unit unchanged, enabled, with the docker-group drop-in', () => {
    const unit = path.join(root, 'etc/systemd/system/sextant-agent.service');
    expect(readFileSync(unit, 'utf8')).toBe(readFileSync(UNIT_PATH, 'utf8'));
    expect(mode(unit)).toBe('0644');
    expect(readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/sextant-agent.service'))).toBe('/etc/systemd/system/sextant-agent.service');
    const dropIn = readFileSync(path.join(root, 'etc/systemd/system/sextant-agent.service.d/10-docker-socket.conf'), 'utf8');
    expect(dropIn).toMatch(/^\[Service\]\nSupplementaryGroups=docker$/m);
  });

  it('installs the app and the Node binary, root-owned and not writable by the service', () => {
    for (const p of ['opt/sextant/app/dist/cli/sextant.js', 'opt/sextant/app/package.json', 'opt/sextant/app/proto/x.proto', 'opt/sextant/app/node_modules/left-pad/index.js', 'opt/sextant/bin/node']) {
      const s = statSync(path.join(root, p));
      expect([s.uid, s.gid, s.mode & 0o022], p).toEqual([0, 0, 0]);
    }
    expect(mode(path.join(root, 'opt/sextant/bin/node'))).toBe('0755');
    expect(spawnSync(path.join(root, 'opt/sextant/bin/node'), ['-p', '1+1'], { encoding: 'utf8' }).stdout.trim()).toBe('2');
  });

  it('a second run keeps an edited env file and token, re-tightens their modes, and changes nothing else', () => {
    const env = path.join(root, 'etc/sextant/sextant.env');
    writeFileSync(env, 'SEXTANT_ENDPOINT=https://example.invalid/api/v2/otlp\n');
    writeFileSync(path.join(root, 'etc/sextant/token'), 'dt0c01.not-a-real-token\n');
    chmodSync(env, 0o644);
    const before = snapshot(root).map((l) => (l.startsWith('etc/sextant/sextant.env ') ? l.replace(' 644 ', ' 600 ') : l));
    const again = run(['--root', root, '--source', src, '--node', process.execPath]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/keeping .*sextant\.env/);
    expect(readFileSync(env, 'utf8')).toBe('SEXTANT_ENDPOINT=https://example.invalid/api/v2/otlp\n');
    expect(readFileSync(path.join(root, 'etc/sextant/token'), 'utf8')).toBe('dt0c01.not-a-real-token\n');
    expect(mode(env)).toBe('0600');
    // The account files get a backup (passwd-) from useradd only on the first run.
    expect(snapshot(root)).toEqual(before);
    expect(readFileSync(path.join(root, 'etc/passwd'), 'utf8').match(/^sextant:/gm)).toHaveLength(1);
    // The token never reaches the script's output.
    expect(`${again.stdout}${again.stderr}`).not.toContain('not-a-real-token');
  });

  it('leaves out the docker drop-in where there is no docker group', () => {
    const r2 = makeRoot(tmp, false);
    const r = run(['--root', r2, '--source', src, '--node', process.execPath]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(r2, 'etc/systemd/system/sextant-agent.service.d/10-docker-socket.conf'))).toBe(false);
  });

  it('--dry-run prints every action and changes nothing', () => {
    const r3 = makeRoot(tmp, true);
    const before = snapshot(r3);
    const r = run(['--root', r3, '--source', src, '--node', process.execPath, '--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(snapshot(r3)).toEqual(before);
    for (const action of ['+ groupadd --system', '+ useradd --system', '+ install -d -m 0700', '+ write ' + path.join(r3, 'etc/sextant/sextant.env') + ' (mode 0600)', `+ systemctl --root=${r3} enable sextant-agent.service`]) {
      expect(r.stdout).toContain(action);
    }
  });

  it('refuses a source that was not built, and a Node older than 22.12, before touching anything', () => {
    const r4 = makeRoot(tmp, true);
    const before = snapshot(r4);
    const empty = mkdtempSync(path.join(tmp, 'empty-'));
    const noBuild = run(['--root', r4, '--source', empty, '--node', process.execPath]);
    expect(noBuild.status).not.toBe(0);
    expect(noBuild.stderr).toMatch(/dist\/cli\/sextant\.js missing/);
    const oldNode = path.join(tmp, 'old-node');
    writeFileSync(oldNode, '#!/bin/sh\necho 20.11.1\n', { mode: 0o755 });
    const old = run(['--root', r4, '--source', src, '--node', oldNode]);
    expect(old.status).not.toBe(0);
    expect(old.stderr).toMatch(/Node 20\.11\.1; sextant needs >= 22\.12/);
    expect(snapshot(r4)).toEqual(before);
  });

  it('rejects unknown options with the usage text', () => {
    const r = run(['--prefix', '/x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option --prefix/);
    expect(r.stderr).toMatch(/--dry-run/);
  });
});
