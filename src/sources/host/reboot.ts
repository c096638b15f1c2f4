import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../io/state-file.js';
import { type LogRecord, type Resource, type Scope, Severity, nowUnixNano } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { RecordSink } from '../types.js';

/** The state file holding the boot id the agent last saw. */
export const BOOT_ID_FILE = 'boot-id';

export const REBOOT_EVENT = 'sextant.host.reboot';

export type RebootCheck =
  /** No boot id recorded yet (first run with this state dir): recorded now, no event. */
  | { readonly kind: 'first-run'; readonly bootId: string }
  | { readonly kind: 'same-boot'; readonly bootId: string }
  | { readonly kind: 'rebooted'; readonly bootId: string; readonly previousBootId: string }
  /** The kernel's boot id could not be read: nothing recorded, no event. */
  | { readonly kind: 'unknown' };

export interface RebootDetectionInput {
  readonly hostRoot: string;
  readonly stateDir: string;
  readonly resource: Resource;
  readonly scope: Scope;
  readonly logger: Logger;
  /** Boot time in Unix seconds, for the event (from /proc/stat `btime`), when known. */
  readonly bootTimeSec: number | undefined;
}

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function readBootId(file: string): Promise<string | undefined> {
  try {
    const id = (await readFile(file, 'utf8')).trim();
    return BOOT_ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Compares the kernel's boot id (a random UUID made at each boot) with the one in the state
 * directory. A difference means the node rebooted while the agent was not running (the agent
 * cannot outlive a reboot): one `sextant.host.reboot` event goes on the events signal, and the
 * new id is recorded atomically so a crash right after cannot report the reboot twice … or
 * lose it: the id is written only after the event was offered.
 */
export async function detectReboot(input: RebootDetectionInput, sink: RecordSink): Promise<RebootCheck> {
  const bootId = await readBootId(path.join(input.hostRoot, 'proc/sys/kernel/random/boot_id'));
  if (bootId === undefined) {
    input.logger.debug('no readable boot_id: reboot detection skipped');
    return { kind: 'unknown' };
  }
  const file = path.join(input.stateDir, BOOT_ID_FILE);
  const previous = await readBootId(file);
  if (previous === bootId) return { kind: 'same-boot', bootId };
  if (previous !== undefined) {
    const now = nowUnixNano();
    const event: LogRecord = {
      resource: input.resource,
      scope: input.scope,
      timeUnixNano: input.bootTimeSec !== undefined ? BigInt(input.bootTimeSec) * 1_000_000_000n : now,
      observedTimeUnixNano: now,
      severityNumber: Severity.INFO,
      severityText: 'INFO',
      body: 'node rebooted',
      attributes: Object.freeze({
        'sextant.host.boot_id': bootId,
        'sextant.host.boot_id.previous': previous,
        ...(input.bootTimeSec !== undefined ? { 'sextant.host.boot_time': input.bootTimeSec } : {}),
      }),
      eventName: REBOOT_EVENT,
    };
    sink.offerEvent(event);
    input.logger.info({ bootId, previousBootId: previous }, 'node rebooted since the agent last ran');
  }
  await writeFileAtomic(file, `${bootId}\n`);
  return previous === undefined ? { kind: 'first-run', bootId } : { kind: 'rebooted', bootId, previousBootId: previous };
}
