import type { ConfigOf } from '../../config-kinds/section.js';
import { boolean, integer, oneOf } from '../../config-kinds/values.js';
import { ConfigError } from '../../errors.js';

/** How processes are aggregated into groups; see ProcessSource in process-source.ts. */
export type ProcessGroupBy = 'exe' | 'exe+container' | 'exe+user';

export const PROCESS_GROUP_BY: readonly ProcessGroupBy[] = ['exe', 'exe+container', 'exe+user'];

/** The process source's settings: the keys of `PROCESS_KEYS` bar the switch, checked by `processSourceConfig`. */
export interface ProcessSourceConfig {
  /** Group key: executable name alone, or with the container id, or with the owner. */
  readonly groupBy: ProcessGroupBy;
  /** Most named groups; processes of further keys go to the single `other` group. */
  readonly maxGroups: number;
  /** Processes exported with their own series for using the most CPU since the last cycle. */
  readonly topByCpu: number;
  /** Processes exported with their own series for the largest resident memory. */
  readonly topByMemory: number;
  /**
   * Every how many cycles cmdline/exe/owner/cgroup/io/fds of a known process are read again
   * (a new process is always read at once). io and fd counts are only as fresh as this.
   */
  readonly detailsRefreshCycles: number;
  /** Every how many cycles `<hostRoot>/etc/passwd` is read again for uid → user name. */
  readonly usersRefreshCycles: number;
  /** Longest `process.command_line` exported, in bytes; 0 exports no command lines at all. */
  readonly maxCmdlineBytes: number;
}

export const PROCESS_SOURCE_DEFAULTS: ProcessSourceConfig = Object.freeze({
  groupBy: 'exe+container',
  maxGroups: 500,
  topByCpu: 10,
  topByMemory: 10,
  detailsRefreshCycles: 12,
  usersRefreshCycles: 60,
  maxCmdlineBytes: 4096,
});

/** Upper bounds: beyond them a node's series count stops being "bounded" in any useful sense. */
export const PROCESS_LIMITS = {
  maxGroups: [1, 100_000],
  topByCpu: [0, 1000],
  topByMemory: [0, 1000],
  detailsRefreshCycles: [1, 100_000],
  usersRefreshCycles: [1, 1_000_000],
  maxCmdlineBytes: [0, 1 << 20],
} as const;

/** A count key of the `process:` section, its bounds from `PROCESS_LIMITS`. */
function count(key: keyof typeof PROCESS_LIMITS, description: string) {
  const [min, max] = PROCESS_LIMITS[key];
  return integer({ description, default: PROCESS_SOURCE_DEFAULTS[key], min, max: { value: max } });
}

/**
 * The `process:` section of the configuration (`src/config/schema.ts` places it): every key a
 * user can set for this source, with `PROCESS_SOURCE_DEFAULTS`'s defaults and `PROCESS_LIMITS`'s bounds.
 */
export const PROCESS_KEYS = {
  enabled: boolean({ description: 'Collect process and process-group metrics. Default from mode.', default: true }),
  groupBy: oneOf({
    description: 'How processes are aggregated into process groups: by executable, by executable and container, or by executable and owner.',
    values: PROCESS_GROUP_BY,
    default: PROCESS_SOURCE_DEFAULTS.groupBy,
  }),
  maxGroups: count('maxGroups', 'Most named process groups; processes of further keys are summed into one "other" group.'),
  topByCpu: count('topByCpu', 'Processes exported with their own series for using the most CPU since the last cycle.'),
  topByMemory: count('topByMemory', 'Processes exported with their own series for the largest resident memory.'),
  detailsRefreshCycles: count(
    'detailsRefreshCycles',
    'Every how many cycles the command line, executable, owner, cgroup, io and fd count of a known process are read again (a new process is read at once).',
  ),
  usersRefreshCycles: count('usersRefreshCycles', 'Every how many cycles /etc/passwd is read again for user names.'),
  maxCmdlineBytes: count(
    'maxCmdlineBytes',
    'Longest process.command_line exported, in bytes; 0 exports no command lines (they can carry secrets passed as arguments).',
  ),
};

/** The `process:` section as loaded: what `create` (index.ts) takes. */
export type ProcessConfig = ConfigOf<typeof PROCESS_KEYS>;

/**
 * Defaults under `partial`, checked. Throws ConfigError naming the key (`<prefix>.<key>`), so a
 * caller outside `src/config/` (tests, the agent wiring) gets the same messages.
 */
export function processSourceConfig(partial: Partial<ProcessSourceConfig> = {}, prefix = 'process'): ProcessSourceConfig {
  const c: ProcessSourceConfig = { ...PROCESS_SOURCE_DEFAULTS, ...partial };
  if (!PROCESS_GROUP_BY.includes(c.groupBy)) {
    throw new ConfigError(`${prefix}.groupBy`, `must be one of ${PROCESS_GROUP_BY.join(', ')}`);
  }
  for (const key of Object.keys(PROCESS_LIMITS) as (keyof typeof PROCESS_LIMITS)[]) {
    const [min, max] = PROCESS_LIMITS[key];
    const v = c[key];
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new ConfigError(`${prefix}.${key}`, `must be an integer from ${min} to ${max}`);
    }
  }
  return Object.freeze(c);
}
