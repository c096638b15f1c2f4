import type { Logger } from './logger.js';

/**
 * Resolves with the first SIGTERM or SIGINT. From then on a second one means "now": it is
 * logged and the process exits 130 without waiting for the shutdown deadline.
 */
export function untilStopSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const hurry = (again: NodeJS.Signals): void => {
        logger.warn({ signal: again }, 'second signal during shutdown; exiting without finishing it');
        process.exit(130);
      };
      process.once('SIGTERM', hurry);
      process.once('SIGINT', hurry);
      resolve(signal);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}
