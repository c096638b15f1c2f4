import type { LoadedConfig } from '../config/load.js';
import { ProcessMemory } from '../self/process-memory.js';
import { gatewayHeapFloorMiB, heapFloorArgv } from '../self/gateway-heap.js';
import { missingMallocEnv, relaunchArgv, v8LimitsFor } from '../self/v8-limits.js';

/**
 * Restarts with the Node flags the configuration asks for. The gateway: V8's old-space floor
 * (src/self/gateway-heap.ts). The agent: when the V8 heap limits this Node runs with are not the ones the
 * configuration asks for (src/self/v8-limits.ts), replace the process with one that has them
 * (`process.execve`: same pid, same descriptors, so a supervisor, a pipe or a test harness sees
 * no difference). bin/sextant usually has set them already; the image's capability launcher and
 * the systemd unit start Node directly, and a `memory:` setting in a YAML file is only read here.
 */

const MEMORY_KEYS = ['memory.limit', 'memory.semiSpace', 'memory.oldSpace', 'memory.heapGrowth'];
/** Set on the relaunched process (and removed at once): a second relaunch would be a bug, not a fix. */
const MARK = '__SEXTANT_V8_RELAUNCHED';

/** Replaces the process with Node run with `execArgv` and `env` (same pid), or says why it cannot. */
function execNode(execArgv: readonly string[], env: Record<string, string | undefined>, what: string, stderr: { write(s: string): unknown }): void {
  const script = process.argv[1];
  if (typeof process.execve !== 'function' || script === undefined) {
    stderr.write(`sextant: cannot apply ${what} (this Node has no process.execve); start it through bin/sextant\n`);
    return;
  }
  process.execve(process.execPath, [process.execPath, ...execArgv, script, ...process.argv.slice(2)], { ...env, [MARK]: '1' } as NodeJS.ProcessEnv);
}

/**
 * Before the gateway starts: when Node runs without the old-space floor the configuration asks
 * for (src/self/gateway-heap.ts; `--initial-old-space-size` is refused in NODE_OPTIONS, and the
 * image and the systemd unit start Node directly), replace the process with one that has it.
 */
export function relaunchWithHeapFloor(loaded: LoadedConfig, stderr: { write(s: string): unknown }): void {
  if (process.env[MARK] !== undefined) {
    delete process.env[MARK];
    return;
  }
  const key = 'gateway.heapFloor';
  const explicit = loaded.sources[key] !== undefined && loaded.sources[key] !== 'default';
  const want = gatewayHeapFloorMiB(loaded.config.gateway.heapFloor, new ProcessMemory().limit());
  const next = heapFloorArgv(process.execArgv, want, explicit);
  if (next !== undefined) execNode(next, process.env, `the heap floor --initial-old-space-size=${want}`, stderr);
}

export function relaunchWithMemoryLimits(loaded: LoadedConfig, stderr: { write(s: string): unknown }): void {
  if (process.env[MARK] !== undefined) {
    delete process.env[MARK];
    return;
  }
  const explicit = MEMORY_KEYS.some((k) => loaded.sources[k] !== undefined && loaded.sources[k] !== 'default');
  const want = v8LimitsFor(loaded.config.memory, new ProcessMemory().limit());
  const next = relaunchArgv(process.execArgv, process.env.NODE_OPTIONS, want, explicit);
  // malloc reads its settings at start: they too need a new process (src/self/v8-limits.ts MALLOC_ENV).
  const malloc = missingMallocEnv(process.env);
  if (next === undefined && Object.keys(malloc).length === 0) return;
  const env: Record<string, string | undefined> = { ...process.env, ...malloc };
  if (next?.nodeOptions !== undefined) env.NODE_OPTIONS = next.nodeOptions;
  const flags = next?.execArgv.filter((a) => a.startsWith('--max-') || a.startsWith('--heap-')).join(' ') ?? '';
  execNode(next?.execArgv ?? process.execArgv, env, `the memory settings ${flags} ${Object.keys(malloc).join(' ')}`.trimEnd(), stderr);
}
