/**
 * Coded errors. Every failure a user can meet has a stable `code`, so logs and tests match on
 * the code rather than the wording. Messages never contain a secret.
 */
export class SextantError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A configuration value is missing, malformed or unknown. `key` is what the user can set, exactly
 * as the schema spells it (`logs.checkpointInterval`, `tls.caFile`, `gateway.upstream`), or
 * `config` for the config file itself; a component checking an option it was given names the key
 * that sets it, not its own option name. Options no user can set are checked with RangeError: a
 * bad one is a bug, not a config error. test/unit/config/config-error-keys.test.ts holds every
 * key named here to the schema.
 */
export class ConfigError extends SextantError {
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super('SEXTANT_ERR_CONFIG', `${key}: ${message}`, options);
    this.key = key;
  }
}

/** An OTLP body the gateway could not accept; `status` is the HTTP answer. */
export class IngestError extends SextantError {
  readonly status: number;
  constructor(status: number, message: string) {
    super('SEXTANT_ERR_INGEST', message);
    this.status = status;
  }
}

/**
 * A container runtime call failed. `reason` is what the caller acts on:
 *   absent      the socket does not exist (the runtime is not installed or not mounted);
 *   unavailable the socket exists but refused or dropped the connection (restarting);
 *   timeout     no answer before the call's deadline (a hung runtime);
 *   protocol    an answer that is not what the API defines (wrong shape, undecodable);
 *   failed      the runtime answered with an error.
 */
export type RuntimeErrorReason = 'absent' | 'unavailable' | 'timeout' | 'protocol' | 'failed';

export class RuntimeError extends SextantError {
  readonly reason: RuntimeErrorReason;
  readonly runtime: string;
  constructor(runtime: string, reason: RuntimeErrorReason, message: string, options?: { cause?: unknown }) {
    super('SEXTANT_ERR_RUNTIME', `${runtime}: ${message}`, options);
    this.runtime = runtime;
    this.reason = reason;
  }
}
