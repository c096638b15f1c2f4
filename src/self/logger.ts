import { pino, type Logger } from 'pino';

export type { Logger };

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/**
 * The process logger: pino JSON on stderr (stdout is kept for command output such as
 * `sextant check` and the one-line summary). Never log a record, and never a token: the
 * redact paths are a last line of defence, not the policy.
 */
export function createLogger(level: LogLevel, destination: NodeJS.WritableStream | number = 2): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['token', 'apiToken', '*.apiToken', '*.token', 'headers.authorization', '*.headers.authorization', 'upstreamToken', '*.upstreamToken'],
        censor: '[redacted]',
      },
    },
    typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination,
  );
}

/** A logger that drops everything, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
