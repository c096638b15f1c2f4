import type { ConfigOf } from '../../config-kinds/section.js';
import { bytes, duration } from '../../config-kinds/values.js';

/**
 * The `buffer:` section (`src/config/schema.ts` places it): the disk spool that takes the
 * export requests the endpoint cannot take yet (docs: README "How data flows").
 */
export const BUFFER_KEYS = {
  disk: {
    maxBytes: bytes({
      description:
        'Disk spool under <stateDir>/spool: when the endpoint is slower than the sources (down, refusing, slow), export requests are written here and sent oldest first once it takes them again; log checkpoints advance once a line is on disk here, so an outage longer than the runtime keeps its log files loses nothing. Full: logs stop being read (their files are the buffer again) and metrics drop oldest; spooled logs are never deleted to make room.',
      default: '256MiB',
      min: 4 * 1024 * 1024,
      max: { value: 2 ** 40 },
      zero: 'off',
    }),
    syncInterval: duration({
      description: 'How often the spool is fsynced: the most a power loss can take of what was spooled, and how long log checkpoints wait for it.',
      default: '100ms',
      min: '10ms',
      max: '10s',
    }),
  },
};

/** The `buffer:` section as loaded (sizes in bytes, durations in ms). */
export type BufferConfig = ConfigOf<typeof BUFFER_KEYS>;
