import type { LoadedConfig } from '../config/load.js';
import { ProcessMemory } from '../self/process-memory.js';
import { missingMallocEnv, relaunchArgv, v8LimitsFor } from '../self/v8-limits.js';

/**
 * Before the agent starts: when the V8 heap limits this Node runs with are not the ones the
 * configuration asks for (src/self/v8-limits.ts), replace the process with one that has them
 * (`process.execve`: same pid, same descriptors, so a supervisor, a pipe or a test harness sees
 * no difference). bin/sextant usually has set them already; the image's capability launcher and
 * the systemd unit start Node directly, and a `memory:` setting in a YAML file is only read here.
 */

const MEMORY_KEYS = ['memory.limit', 'memory.semiSpace', 'memory.oldSpace', 'memory.heapGrowth'];
/** Set on the relaunched process (and removed at once): a second relaunch would be a bug, not a fix. */
const MARK = '__SEXTANT_V8_RELAUNCHED';

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
  const script = process.argv[1];
  if (typeof process.execve !== 'function' || script === undefined) {
    const flags = next?.execArgv.filter((a) => a.startsWith('--max-')).join(' ') ?? '';
    stderr.write(`sextant: cannot apply the memory settings ${flags} ${Object.keys(malloc).join(' ')} (this Node has no process.execve); start it through bin/sextant\n`);
    return;
  }
  const env: Record<string, string | undefined> = { ...process.env, ...malloc, [MARK]: '1' };
  if (next?.nodeOptions !== undefined) env.NODE_OPTIONS = next.nodeOptions;
  process.execve(process.execPath, [process.execPath, ...(next?.execArgv ?? process.execArgv), script, ...process.argv.slice(2)], env as NodeJS.ProcessEnv);
}
