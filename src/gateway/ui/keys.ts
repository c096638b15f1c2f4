import { boolean, duration } from '../../config-kinds/values.js';

/**
 * The explorer (the web page the gateway serves at /ui): keys composed into the `gateway`
 * section of the schema. Defaults match `DEFAULT_EXPLORER_CONFIG`.
 */
export const GATEWAY_EXPLORER_KEYS = {
  explorer: boolean({ description: 'Serve the explorer web page at /ui (needs gateway.storeEnabled; it reads the query API).', default: true }),
  sessionTtl: duration({
    description: 'How long an explorer session lasts: a read token is exchanged once for an HttpOnly session cookie valid this long (sessions end when the gateway restarts).',
    default: '12h',
    min: '1s',
    max: '720h',
  }),
};
