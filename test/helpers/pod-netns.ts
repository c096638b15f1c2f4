import { spawn, spawnSync } from 'node:child_process';

/**
 * A "pod" network namespace on this machine: a netns joined to the root namespace by a veth pair
 * with two addresses of 198.18.0.0/15 (RFC 2544's benchmarking range: neither loopback nor a
 * private or public network), so a process started in it reaches a server listening on 0.0.0.0
 * here from an address of its own, as a pod reaches its node's agent. Needs root and `ip`;
 * `podNetnsOrSkip` says why not otherwise. Everything stays on this machine.
 */
export interface PodNetns {
  readonly name: string;
  /** The root namespace's end: what the process in the netns connects to. */
  readonly hostIp: string;
  /** The netns's end: the sender address the server sees. */
  readonly podIp: string;
  /** argv run inside the namespace (`ip netns exec`). */
  command(argv: readonly string[]): string[];
  remove(): void;
}

let counter = 0;

function ip(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, err: `${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

/** Why a netns cannot be made here, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  const why = process.getuid?.() !== 0 ? 'not root' : ipNetnsProblem();
  // Under CI=true a missing component fails the test rather than skipping it (test/README.md).
  if (why !== undefined && process.env['CI'] === 'true') throw new Error(`CI=true and network namespaces cannot be made (${why}): run as root with iproute2 installed`);
  return why;
}

function ipNetnsProblem(): string | undefined {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `ip netns: ${r.stderr || r.error?.message}`;
}

export function createPodNetns(): PodNetns {
  const n = (process.pid % 200) + 1;
  const k = ++counter % 60;
  const name = `sx-${process.pid}-${counter}`;
  const host = `sxh${process.pid % 100000}${counter}`.slice(0, 15);
  const pod = `sxp${process.pid % 100000}${counter}`.slice(0, 15);
  const hostIp = `198.18.${n}.${k * 4 + 1}`;
  const podIp = `198.18.${n}.${k * 4 + 2}`;
  const steps: string[][] = [
    ['netns', 'add', name],
    ['link', 'add', host, 'type', 'veth', 'peer', 'name', pod],
    ['link', 'set', pod, 'netns', name],
    ['addr', 'add', `${hostIp}/30`, 'dev', host],
    ['link', 'set', host, 'up'],
    ['-n', name, 'addr', 'add', `${podIp}/30`, 'dev', pod],
    ['-n', name, 'link', 'set', pod, 'up'],
    ['-n', name, 'link', 'set', 'lo', 'up'],
  ];
  const remove = (): void => {
    ip(['link', 'del', host]);
    ip(['netns', 'del', name]);
  };
  for (const s of steps) {
    const r = ip(s);
    if (!r.ok) {
      remove();
      throw new Error(`ip ${s.join(' ')}: ${r.err}`);
    }
  }
  return { name, hostIp, podIp, command: (argv) => ['ip', 'netns', 'exec', name, ...argv], remove };
}

/** Runs `argv` in the netns to completion; resolves to its exit code, stdout and stderr. */
export function runIn(ns: PodNetns, argv: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, ...args] = ns.command(argv);
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
