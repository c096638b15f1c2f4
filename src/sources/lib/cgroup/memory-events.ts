import { anyFound, at, readKeyed } from './keyed-file.js';

/**
 * OOM counts. v2 `memory.events` (cgroup-v2.rst): low, high, max, oom, oom_kill, oom_group_kill,
 * counted for the cgroup and its descendants (`memory.events.local` is the cgroup alone).
 * v1 `memory.oom_control`: oom_kill_disable, under_oom, and oom_kill since Linux 4.13.
 */
export interface MemoryEvents {
  readonly low: number | undefined;
  readonly high: number | undefined;
  readonly max: number | undefined;
  /** Times the cgroup hit its limit and the OOM killer was about to run. */
  readonly oom: number | undefined;
  /** Processes the OOM killer killed. */
  readonly oomKill: number | undefined;
  readonly oomGroupKill: number | undefined;
  readonly malformed: number;
}

const EVENT_KEYS = ['low', 'high', 'max', 'oom', 'oom_kill', 'oom_group_kill'];
const events = new Float64Array(EVENT_KEYS.length);

export function parseMemoryEvents(text: string): MemoryEvents | undefined {
  const malformed = readKeyed(text, EVENT_KEYS, events);
  if (!anyFound(events)) return undefined;
  return {
    low: at(events, 0), high: at(events, 1), max: at(events, 2),
    oom: at(events, 3), oomKill: at(events, 4), oomGroupKill: at(events, 5), malformed,
  };
}

export interface OomControl {
  readonly oomKillDisable: boolean | undefined;
  readonly underOom: boolean | undefined;
  /** Undefined before Linux 4.13, which did not count kills here. */
  readonly oomKill: number | undefined;
  readonly malformed: number;
}

const OOM_KEYS = ['oom_kill_disable', 'under_oom', 'oom_kill'];
const oom = new Float64Array(OOM_KEYS.length);

export function parseOomControl(text: string): OomControl | undefined {
  const malformed = readKeyed(text, OOM_KEYS, oom);
  if (!anyFound(oom)) return undefined;
  const disable = at(oom, 0);
  const under = at(oom, 1);
  return {
    oomKillDisable: disable === undefined ? undefined : disable !== 0,
    underOom: under === undefined ? undefined : under !== 0,
    oomKill: at(oom, 2),
    malformed,
  };
}
