import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret value (an API token). It can only be read through `reveal()`: string conversion,
 * JSON, template literals and `util.inspect` (console.log, pino's serialisers, vitest's diffs)
 * all print `[redacted]`, so a secret that reaches a log line or an error by accident shows
 * nothing. `source` says where it came from (`env SEXTANT_API_TOKEN`, `file /run/secrets/token`)
 * and is safe to print.
 */
export class Secret {
  readonly #value: string;
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  /** The value itself. Call it only where the secret is used (building an HTTP header). */
  reveal(): string {
    return this.#value;
  }

  /** Constant-time comparison, for the gateway's token check. */
  equals(other: string): boolean {
    const a = Buffer.from(this.#value);
    const b = Buffer.from(other);
    // Compare the lengths in the same pass so the time spent does not depend on where they differ.
    let diff = a.length ^ b.length;
    for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i % (b.length || 1)] ?? 0);
    return diff === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
