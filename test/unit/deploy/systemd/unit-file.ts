import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** deploy/systemd/ in this checkout. */
export const SYSTEMD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../deploy/systemd');
export const UNIT_PATH = path.join(SYSTEMD_DIR, 'sextant-agent.service');

/**
 * A systemd unit file as `section → key → values` (a key may repeat; every assignment is kept in
 * order, an empty assignment included, since systemd reads `Key=` as "reset the list").
 * Comments (`#`, `;`) and blank lines are dropped; continuation lines (`\` at the end) are joined.
 */
export type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]!) ?? new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (section === undefined || eq <= 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    const list = section.get(key) ?? [];
    list.push(line.slice(eq + 1).trim());
    section.set(key, list);
  }
  return unit;
}

/** The effective value of a single-valued key: the last assignment. */
export function value(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** The effective set of a list-valued key: assignments after the last empty one, split on spaces. */
export function listValue(unit: Unit, section: string, key: string): string[] | undefined {
  const all = unit.get(section)?.get(key);
  if (all === undefined) return undefined;
  const reset = all.lastIndexOf('');
  return all.slice(reset + 1).flatMap((v) => v.split(/\s+/).filter((w) => w !== ''));
}

/** Seconds of a systemd time span with one unit (`30s`, `2min`, `500ms`, a bare number = s). */
export function seconds(span: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?$/.exec(span.trim());
  if (!m) throw new Error(`unsupported time span ${span}`);
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms':
      return n / 1000;
    case 'min':
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    default:
      return n;
  }
}

/** What the agent's collectors need, and so the most the unit may grant (docs: the unit's comments). */
export const ALLOWED_CAPABILITIES = ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'];
/** inet for export, unix for the runtimes' sockets, netlink for sock_diag TCP state counts. */
export const ALLOWED_ADDRESS_FAMILIES = ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK'];

const YES = new Set(['yes', 'true', 'on', '1']);

/**
 * Every hardening property the unit must keep, as a list of problems (empty: all there). The
 * test fails with these messages when someone removes or weakens a line, so each one says what
 * the line protects.
 */
export function hardeningProblems(unit: Unit, shutdownTimeoutS: number): string[] {
  const p: string[] = [];
  const svc = (key: string): string | undefined => value(unit, 'Service', key);
  const yes = (key: string, why: string): void => {
    if (!YES.has(svc(key) ?? '')) p.push(`${key}=yes missing (${why})`);
  };

  if (svc('ProtectSystem') !== 'strict') p.push('ProtectSystem=strict missing (the whole filesystem read-only but the state dir)');
  if (!(listValue(unit, 'Service', 'ReadWritePaths') ?? []).includes('/var/lib/sextant')) p.push('ReadWritePaths=/var/lib/sextant missing (the state dir must stay writable)');
  const rw = (listValue(unit, 'Service', 'ReadWritePaths') ?? []).filter((x) => x.replace(/^-/, '') !== '/var/lib/sextant');
  if (rw.length > 0) p.push(`ReadWritePaths opens more than the state dir: ${rw.join(' ')}`);
  yes('NoNewPrivileges', 'no setuid or file-capability escalation');
  yes('PrivateTmp', 'a private /tmp');
  if (!['yes', 'read-only', 'tmpfs'].includes(svc('ProtectHome') ?? '')) p.push('ProtectHome missing (home directories hidden or read-only)');
  yes('PrivateDevices', 'no device nodes');
  yes('ProtectKernelTunables', '/proc/sys and /sys read-only');
  yes('ProtectKernelModules', 'no module loading');
  yes('ProtectKernelLogs', 'no kernel log buffer');
  yes('ProtectControlGroups', 'cgroupfs read-only');
  yes('ProtectClock', 'no clock changes');
  yes('ProtectHostname', 'no hostname changes');
  yes('RestrictNamespaces', 'no new namespaces');
  yes('RestrictRealtime', 'no realtime scheduling');
  yes('RestrictSUIDSGID', 'no setuid files');
  yes('LockPersonality', 'no personality changes');
  yes('RemoveIPC', 'no System V IPC left behind');
  if (svc('SystemCallArchitectures') !== 'native') p.push('SystemCallArchitectures=native missing (no 32-bit syscall ABI)');
  if (!(listValue(unit, 'Service', 'SystemCallFilter') ?? []).includes('@system-service')) p.push('SystemCallFilter=@system-service missing');
  if (svc('SystemCallErrorNumber') !== 'EPERM') p.push('SystemCallErrorNumber=EPERM missing (a filtered syscall would kill the agent with SIGSYS instead of failing)');
  if (svc('UMask') !== '0077') p.push('UMask=0077 missing (checkpoints readable by the service alone)');

  const user = svc('User');
  if (user === undefined || user === 'root' || user === '0') p.push(`User=${user ?? '(unset)'}: the agent must not run as root`);
  if (svc('DynamicUser') !== undefined && YES.has(svc('DynamicUser')!)) p.push('DynamicUser=yes: the state dir owner would change');

  const bounding = listValue(unit, 'Service', 'CapabilityBoundingSet');
  if (bounding === undefined) p.push('CapabilityBoundingSet missing (without it the service keeps every capability in its bounding set)');
  else {
    const extra = bounding.filter((c) => !ALLOWED_CAPABILITIES.includes(c));
    if (extra.length > 0 || bounding.some((c) => c.startsWith('~'))) p.push(`CapabilityBoundingSet grants more than ${ALLOWED_CAPABILITIES.join(' ')}: ${bounding.join(' ')}`);
  }
  const ambient = listValue(unit, 'Service', 'AmbientCapabilities') ?? [];
  // Not hardening but function: without them a non-root agent reads no root-owned logs.
  for (const c of ALLOWED_CAPABILITIES) if (!ambient.includes(c)) p.push(`AmbientCapabilities lacks ${c} (the collectors need it as uid ${user ?? '?'})`);
  const outside = ambient.filter((c) => !(bounding ?? []).includes(c));
  if (outside.length > 0) p.push(`AmbientCapabilities outside the bounding set: ${outside.join(' ')}`);

  const families = listValue(unit, 'Service', 'RestrictAddressFamilies');
  if (families === undefined) p.push('RestrictAddressFamilies missing');
  else if (families.some((f) => !ALLOWED_ADDRESS_FAMILIES.includes(f))) p.push(`RestrictAddressFamilies allows more than ${ALLOWED_ADDRESS_FAMILIES.join(' ')}: ${families.join(' ')}`);

  // Lines that would break the collectors (each was considered and left out on purpose).
  if (svc('ProtectProc') !== undefined && svc('ProtectProc') !== 'default') p.push(`ProtectProc=${svc('ProtectProc')} hides other processes from the process collector`);
  if (svc('ProcSubset') === 'pid') p.push('ProcSubset=pid hides /proc/stat, meminfo and diskstats from the host collector');
  if (YES.has(svc('PrivateNetwork') ?? '')) p.push('PrivateNetwork=yes: the agent could not export nor see host network stats');
  if (YES.has(svc('PrivateUsers') ?? '')) p.push('PrivateUsers=yes: capabilities would not apply to host files');
  if (YES.has(svc('MemoryDenyWriteExecute') ?? '')) p.push("MemoryDenyWriteExecute=yes: V8's JIT needs writable executable memory");

  // Lifecycle.
  if (svc('Restart') !== 'on-failure') p.push('Restart=on-failure missing');
  if (svc('RestartSec') === undefined || seconds(svc('RestartSec')!) < 1) p.push('RestartSec of at least 1 s missing (no restart storm)');
  const stop = svc('TimeoutStopSec');
  if (stop === undefined || seconds(stop) <= shutdownTimeoutS) p.push(`TimeoutStopSec must exceed the agent's shutdownTimeout (${shutdownTimeoutS} s) so a flush is not killed`);
  if ((svc('KillSignal') ?? 'SIGTERM') !== 'SIGTERM') p.push('KillSignal must be SIGTERM (it starts the flush)');

  // Secrets.
  if (svc('EnvironmentFile') !== '/etc/sextant/sextant.env') p.push('EnvironmentFile=/etc/sextant/sextant.env missing');
  for (const env of listValue(unit, 'Service', 'Environment') ?? []) {
    if (/^SEXTANT_(API_TOKEN|GATEWAY_TOKENS|GATEWAY_UPSTREAM_TOKEN)=/.test(env)) p.push(`a token inline in the unit (${env.split('=')[0]}): use /etc/sextant/token`);
  }
  return p;
}
