import type { ConfigOf } from '../../config-kinds/section.js';
import { boolean, bytes, duration, hostPaths, list, oneOf, pattern } from '../../config-kinds/values.js';

/**
 * The `logs:` section of the configuration (`src/config/schema.ts` places it): every key a user
 * can set for the log source, with its default. The value kinds check each one at load (a
 * multilineStart that does not compile is a config error naming `logs.multilineStart`).
 */
export const LOGS_KEYS = {
  enabled: boolean({ description: 'Tail pod and container logs (kubelet CRI files, Docker json-file) and logs.globs, at least once. Default from mode.', default: true }),
  readFrom: oneOf({
    description: 'Where files present at the first start (no checkpoint yet) are read from; files created later are always read from their start, known files from their checkpoint.',
    values: ['end', 'beginning'],
    default: 'end',
  }),
  maxRecordBytes: bytes({ description: 'Largest log record; a longer one (merged CRI P pieces, Docker partials) is cut and marked sextant.log.truncated.', default: '1MiB', min: 1024, max: { value: 64 * 1024 * 1024 } }),
  globs: hostPaths({ description: 'Extra plain-text log files under hostRoot (`*` within one path segment: /var/log/app/*.log).', default: [] }),
  multilineStart: pattern({
    description: 'Joins multiline entries (stack traces): a record matching this regular expression starts an entry, the records after it that do not match are appended to it. Empty: off.',
    default: '',
  }),
  multilineContainers: list({ description: 'Container names (`*` wildcards) multilineStart applies to; empty: all files.', default: [] }),
  checkpointInterval: duration({ description: 'How often acknowledged read positions are written (the bound on lines repeated after a crash).', default: '1s', min: '100ms', max: '1m' }),
  rotateWait: duration({
    description:
      'How long a file renamed away (rotated) is still read after it stopped growing, before it is let go: its writer may add lines until it reopens its log (containerd drains its old file after ReopenContainerLog returned; an application under logrotate create writes on until it reopens). 0: let go at its first end.',
    default: '5s',
    max: '10m',
  }),
  rescanInterval: duration({ description: 'Full rescan of the log directories (new files are also noticed at once through directory watches).', default: '10s', min: '1s', max: '10m' }),
};

/** The `logs:` section as loaded (durations in ms, sizes in bytes): what `create` (index.ts) takes. */
export type LogsConfig = ConfigOf<typeof LOGS_KEYS>;
