import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { schema } from '../../../../src/config/schema.js';
import { ALLOWED_CAPABILITIES, UNIT_PATH, hardeningProblems, listValue, parseUnit, value } from './unit-file.js';
import { presentOrSkip } from '../../../helpers/ci-gate.js';

/**
 * deploy/systemd/sextant-agent.service: every hardening line is there (and a checker that would
 * notice each one missing), and systemd itself accepts the unit (`systemd-analyze verify`) and
 * rates its exposure.
 */

const TEXT = readFileSync(UNIT_PATH, 'utf8');
const SHUTDOWN_S = (schema.shutdownTimeout.default as number) / 1000;

describe('sextant-agent.service hardening', () => {
  it('has every hardening property', () => {
    expect(hardeningProblems(parseUnit(TEXT), SHUTDOWN_S)).toEqual([]);
  });

  it('grants exactly the documented capabilities, ambient and bounding', () => {
    const unit = parseUnit(TEXT);
    expect(listValue(unit, 'Service', 'CapabilityBoundingSet')?.sort()).toEqual([...ALLOWED_CAPABILITIES].sort());
    expect(listValue(unit, 'Service', 'AmbientCapabilities')?.sort()).toEqual([...ALLOWED_CAPABILITIES].sort());
    expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  // The checker itself: dropping any one directive line, or weakening one, must be noticed.
  const directiveLines = TEXT.split('\n').filter((l) => /^[A-Z][A-Za-z]+=/.test(l) && !/^(Description|Documentation|Wants|After|StartLimit|Type|ExecStart|Group|LimitNOFILE|SyslogIdentifier|StateDirectory|LoadCredential|WantedBy)/.test(l));
  it.each(directiveLines)('notices the removal of "%s"', (line) => {
    // KillSignal=SIGTERM is systemd's default: removing the line keeps the behaviour.
    if (line === 'KillSignal=SIGTERM' || line.startsWith('Environment=')) return;
    const without = TEXT.split('\n').filter((l) => l !== line).join('\n');
    expect(hardeningProblems(parseUnit(without), SHUTDOWN_S)).not.toEqual([]);
  });

  it.each([
    ['CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE', 'CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYS_ADMIN'],
    ['AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE', 'AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_NET_ADMIN'],
    ['ProtectSystem=strict', 'ProtectSystem=full'],
    ['ReadWritePaths=/var/lib/sextant', 'ReadWritePaths=/var/lib/sextant /etc'],
    ['TimeoutStopSec=30s', 'TimeoutStopSec=5s'],
    ['User=sextant', 'User=root'],
    ['RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET'],
    ['ProtectHome=yes', 'ProtectHome=no'],
    ['NoNewPrivileges=yes', 'NoNewPrivileges=no'],
  ])('notices "%s" weakened to "%s"', (from, to) => {
    expect(TEXT).toContain(from);
    expect(hardeningProblems(parseUnit(TEXT.replace(from, to)), SHUTDOWN_S)).not.toEqual([]);
  });

  it.each([
    'ProtectProc=invisible',
    'ProcSubset=pid',
    'PrivateNetwork=yes',
    'PrivateUsers=yes',
    'MemoryDenyWriteExecute=yes',
    'Environment=SEXTANT_API_TOKEN=dt0c01.secret',
    'CapabilityBoundingSet=',
    'DynamicUser=yes',
  ])('rejects an added "%s"', (line) => {
    const text = TEXT.replace('[Install]', `${line}\n\n[Install]`);
    // `CapabilityBoundingSet=` alone resets the list: an empty bounding set is fine, so follow it
    // with a wider one, which is what someone "fixing" a capability error would write.
    const t = line === 'CapabilityBoundingSet=' ? text.replace(`${line}\n`, `${line}\nCapabilityBoundingSet=~CAP_SYS_ADMIN\n`) : text;
    expect(hardeningProblems(parseUnit(t), SHUTDOWN_S)).not.toEqual([]);
  });

  it('parses continuation lines, comments and list resets', () => {
    const u = parseUnit('[Service]\n# c\n; c\nReadWritePaths=/a \\\n /b\nReadWritePaths=\nReadWritePaths=/c\n');
    expect(listValue(u, 'Service', 'ReadWritePaths')).toEqual(['/c']);
    expect(() => parseUnit('Key=value outside a section')).toThrow(/not a unit file line/);
  });
});

// ------------------------------------------------------------------ systemd-analyze
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveAnalyze = presentOrSkip(analyze.status === 0, 'systemd-analyze', 'apt-get install systemd');
const SYSTEM_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => {
  try {
    return statSync(path.join(d, 'multi-user.target')).isFile();
  } catch {
    return false;
  }
});

/**
 * A root for `systemd-analyze verify --root`: systemd's own units (regular files only: the
 * distribution's absolute symlinks would loop under another root), the unit under test in
 * /etc/systemd/system, and an executable at the ExecStart path (verify checks it exists).
 */
function verifyRoot(tmp: string, unitText: string, withBinary = true): string {
  const root = mkdtempSync(path.join(tmp, 'root-'));
  const units = path.join(root, 'usr/lib/systemd/system');
  mkdirSync(units, { recursive: true });
  for (const f of readdirSync(SYSTEM_UNITS!, { withFileTypes: true })) {
    if (f.isFile()) copyFileSync(path.join(SYSTEM_UNITS!, f.name), path.join(units, f.name));
  }
  mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
  writeFileSync(path.join(root, 'etc/systemd/system/sextant-agent.service'), unitText);
  if (withBinary) {
    mkdirSync(path.join(root, 'opt/sextant/bin'), { recursive: true });
    copyFileSync(process.execPath, path.join(root, 'opt/sextant/bin/node'));
    chmodSync(path.join(root, 'opt/sextant/bin/node'), 0o755);
  }
  return root;
}

function verify(root: string): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/sextant-agent.service'], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Complaints about the unit file itself: systemd prints them as `<file>:<line>: ...`, and does not fail for them. */
const complaints = (out: string): string[] => out.split('\n').filter((l) => /sextant-agent\.service(:\d+)?: /.test(l));

describe.skipIf(!haveAnalyze || !presentOrSkip(SYSTEM_UNITS !== undefined, 'systemd’s own units (multi-user.target)', 'apt-get install systemd'))('systemd-analyze', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-systemd-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('verify accepts the unit with no complaint', () => {
    const r = verify(verifyRoot(tmp, TEXT));
    expect(complaints(r.out)).toEqual([]);
    expect(r.status, r.out).toBe(0);
  });

  it('verify would catch a misspelt directive and a missing binary (the check is not vacuous)', () => {
    const typo = verify(verifyRoot(tmp, TEXT.replace('ProtectKernelLogs=yes', 'ProtectKernelLog=yes')));
    expect(complaints(typo.out).join('\n')).toMatch(/Unknown key/);
    const noBinary = verify(verifyRoot(tmp, TEXT, false));
    expect(noBinary.status).not.toBe(0);
    expect(noBinary.out).toMatch(/\/opt\/sextant\/bin\/node is not executable/);
  });

  it('security --offline rates the exposure at most 3.0 ("OK")', () => {
    const root = verifyRoot(tmp, TEXT);
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '/etc/systemd/system/sextant-agent.service'], { encoding: 'utf8', timeout: 30_000 });
    const m = /Overall exposure level for sextant-agent\.service: (\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`);
    expect(m, `${r.stdout}${r.stderr}`).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(3.0);
  });
});
