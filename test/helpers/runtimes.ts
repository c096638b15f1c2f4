import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Where the real runtimes of test/runtimes/setup.sh are, for tests that need them. Values come
 * from the environment (`eval "$(test/runtimes/setup.sh)"`) or, failing that, from the env file
 * setup.sh leaves in its state dir. A test file calls `runtimesOrSkip(...)` once at the top:
 * without the runtime it skips locally, and fails the run under CI=true (CI provisions them; a
 * missing one there is a broken CI, not a reason to skip).
 */
export interface Runtimes {
  readonly dockerSock: string;
  readonly criSock: string;
  readonly criRoot: string;
  readonly stateDir: string;
  readonly busyboxImage: string;
  readonly pauseImage: string;
  readonly testLabel: string;
}

const DEFAULT_STATE_DIR = '/tmp/sextant-runtimes';

function readEnvFile(stateDir: string): Record<string, string> {
  const file = `${stateDir}/env`;
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export function runtimeSettings(): Runtimes {
  const stateDir = process.env['STATE_DIR'] ?? process.env['SEXTANT_RUNTIMES_DIR'] ?? DEFAULT_STATE_DIR;
  const file = readEnvFile(stateDir);
  const get = (key: string, fallback: string): string => process.env[key] ?? file[key] ?? fallback;
  return {
    dockerSock: get('DOCKER_SOCK', '/var/run/docker.sock'),
    criSock: get('CRI_SOCK', `${stateDir}/containerd/containerd.sock`),
    criRoot: get('CRI_ROOT', `${stateDir}/containerd`),
    stateDir,
    busyboxImage: get('BUSYBOX_IMAGE', 'docker.io/sextant-test/busybox:latest'),
    pauseImage: get('PAUSE_IMAGE', 'docker.io/sextant-test/pause:latest'),
    testLabel: get('TEST_LABEL', 'io.sextant.test'),
  };
}

/** True when something accepts a connection on the unix socket. */
export function socketAnswers(path: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) {
      resolve(false);
      return;
    }
    const sock = net.connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export type RuntimeKind = 'docker' | 'cri';

/**
 * Resolves the settings and whether the wanted runtimes answer. Under CI=true a runtime that
 * does not answer throws (the test file fails); otherwise `available` is false and the caller
 * skips (`describe.skipIf(!rt.available)`).
 */
export async function runtimesOrSkip(...kinds: RuntimeKind[]): Promise<Runtimes & { available: boolean; missing: string[] }> {
  const settings = runtimeSettings();
  const missing: string[] = [];
  for (const kind of kinds) {
    const sock = kind === 'docker' ? settings.dockerSock : settings.criSock;
    if (!(await socketAnswers(sock))) missing.push(`${kind} (${sock})`);
  }
  if (missing.length > 0 && process.env['CI'] === 'true') {
    throw new Error(`CI=true and the real runtime is missing: ${missing.join(', ')}; run test/runtimes/setup.sh`);
  }
  return { ...settings, available: missing.length === 0, missing };
}
