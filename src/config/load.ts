import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseFlags, type FlagValue } from './flags.js';
import { MODE_PRESETS, MODE_SWITCHES, type Mode } from './modes.js';
import { closest, printable } from '../config-kinds/names.js';
import {
  CONFIG_FILE_ENV,
  KEYS,
  KEYS_BY_ENV,
  KEYS_BY_PATH,
  RESERVED_ENV_PREFIX,
  type KeyInfo,
  type SextantConfig,
} from './schema.js';
import { Secret } from '../config-kinds/secret.js';
import { readConfigFile, type FileValue } from './yaml-file.js';
import { checkToken, errnoText, Problem, type ParseContext } from '../config-kinds/values.js';

/** Where a key's effective value came from; `mode` = the preset of the configured mode. */
export type Source = 'default' | 'mode' | 'file' | 'env' | 'flag';

export interface LoadOptions {
  /** Arguments after the command: config flags, `--config FILE`, `--local`. */
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths (config file, state dir, token files) resolve against it. */
  readonly cwd?: string;
  /** Local mode even without `--local` in argv (changes defaults: stateDir ./data/state). */
  readonly local?: boolean;
  /** Whether `--local` is accepted in argv (not for `sextant gateway`). Default true. */
  readonly allowLocal?: boolean;
  /** Further switches the command accepts (`--once`); reported back in `switches`. */
  readonly switches?: readonly string[];
}

/** Something valid but worth a log line at start (the caller decides which apply to it). */
export interface ConfigWarning {
  readonly key: string;
  readonly message: string;
}

export interface LoadedConfig {
  readonly config: SextantConfig;
  /** Dotted path → where the value came from, for every key. */
  readonly sources: Readonly<Record<string, Source>>;
  /** Absolute path of the config file read, if any. */
  readonly file: string | undefined;
  readonly local: boolean;
  /** Command switches present in argv (`--once`, `--local`). */
  readonly switches: ReadonlySet<string>;
  readonly warnings: readonly ConfigWarning[];
}

const MAX_SECRET_FILE_BYTES = 64 * 1024;

function where(key: KeyInfo, origin: string): string {
  return origin === `env ${key.env}` ? `(${origin})` : `(${origin}; env ${key.env})`;
}

function wrap(key: KeyInfo, origin: string, err: unknown): never {
  if (err instanceof Problem) throw new ConfigError(key.path, `${err.message} ${where(key, origin)}`);
  throw err;
}

/**
 * Reads a secret file: bounded, trailing newlines dropped, empty is an error. Messages leave the
 * path out: `SEXTANT_API_TOKEN_FILE=<the token itself>` is a common slip.
 */
function readSecretFile(file: string, raw: string, target: KeyInfo): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const slip = (err as NodeJS.ErrnoException).code === 'ENOENT' && !raw.includes('/');
    throw new Problem(`cannot read the file: ${errnoText(err)}${slip ? `; this setting takes a file path (a token itself goes in ${target.env})` : ''}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Problem('the file is a directory');
    const buf = Buffer.allocUnsafe(MAX_SECRET_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > MAX_SECRET_FILE_BYTES) throw new Problem(`the file is larger than ${MAX_SECRET_FILE_BYTES} bytes; it does not hold a token`);
    }
    const s = buf.toString('utf8', 0, n).replace(/[\r\n]+$/, '');
    if (s.length === 0) throw new Problem('the file is empty');
    return s;
  } catch (err) {
    if (err instanceof Problem) throw err;
    throw new Problem(`cannot read the file: ${errnoText(err)}`);
  } finally {
    closeSync(fd);
  }
}

function fileSecrets(target: KeyInfo, file: string, raw: string): Secret | Secret[] {
  const text = readSecretFile(file, raw, target);
  const origin = `file ${file}`;
  if (target.spec.type === 'secret list') {
    const items = text.split(/[\r\n,]+/).map((s) => s.trim()).filter((s) => s !== '');
    return items.map((s, i) => new Secret(checkToken(s, `token ${i + 1} in the file`), origin));
  }
  return new Secret(checkToken(text, 'the token in the file'), origin);
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = root;
  for (let i = 0; i < parts.length - 1; i++) node = (node[parts[i]!] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !(o instanceof Secret) && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Loads the effective configuration: defaults < YAML file (`--config FILE` or `SEXTANT_CONFIG`)
 * < `SEXTANT_*` environment < flags. Throws `ConfigError` (one line naming the key, its env name
 * and what was wrong, never a value) or `UsageError` (unknown flag, stray argument).
 *
 * An empty environment variable counts as not set (orchestrators often template `VAR=""`).
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const commandSwitches = new Set(options.switches ?? []);
  if (options.allowLocal !== false) commandSwitches.add('--local');
  const flags = parseFlags(options.argv ?? [], commandSwitches);
  const local = options.local === true || flags.switches.has('--local');

  // 1. defaults
  const values = new Map<string, unknown>();
  // Secret-file settings as given, to spot a token pasted where its file path belongs.
  const rawFiles = new Map<string, string>();
  const sources: Record<string, Source> = {};
  const defaultCtx: ParseContext = { cwd, origin: 'default', from: 'text' };
  for (const key of KEYS) {
    const d = key.spec.default;
    let v = typeof d === 'function' ? (d as (c: { local: boolean }) => unknown)({ local }) : d;
    if (key.spec.fromDefault !== undefined) v = key.spec.fromDefault(v, defaultCtx);
    values.set(key.path, v);
    sources[key.path] = 'default';
  }

  // 2. the file
  const envConfig = env[CONFIG_FILE_ENV];
  const fileArg = flags.configFile ?? (envConfig !== undefined && envConfig !== '' ? envConfig : undefined);
  const file = fileArg === undefined ? undefined : resolve(cwd, fileArg);
  const fileValues: FileValue[] = file === undefined ? [] : readConfigFile(file);
  const fileLines = new Map<string, number>();
  for (const fv of fileValues) {
    const origin = `${file} line ${fv.line}`;
    fileLines.set(fv.key.path, fv.line);
    try {
      values.set(fv.key.path, fv.key.spec.parse(fv.value, { cwd, origin: `file ${file}`, from: 'yaml' }));
      if (fv.key.spec.fills !== undefined) rawFiles.set(fv.key.path, String(fv.value));
    } catch (err) {
      wrap(fv.key, origin, err);
    }
    sources[fv.key.path] = 'file';
  }

  // 3. the environment: unknown SEXTANT_* names are typos far more often than not.
  const envNames = Object.keys(env)
    .filter((n) => n.startsWith('SEXTANT_'))
    .sort();
  for (const name of envNames) {
    if (name === CONFIG_FILE_ENV || name.startsWith(RESERVED_ENV_PREFIX)) continue;
    const key = KEYS_BY_ENV.get(name);
    if (key === undefined) {
      const suggestion = closest(name.slice('SEXTANT_'.length), [...KEYS_BY_ENV.keys(), CONFIG_FILE_ENV].map((n) => n.slice('SEXTANT_'.length)));
      throw new ConfigError(
        printable(name, 80),
        `unknown environment variable${suggestion !== undefined ? `; did you mean SEXTANT_${suggestion}?` : ''} (SEXTANT_* names are reserved for configuration)`,
      );
    }
    const text = env[name];
    if (text === undefined || text === '') continue;
    try {
      values.set(key.path, key.spec.parse(text, { cwd, origin: `env ${name}`, from: 'text' }));
      if (key.spec.fills !== undefined) rawFiles.set(key.path, text);
    } catch (err) {
      wrap(key, `env ${name}`, err);
    }
    sources[key.path] = 'env';
  }

  // 4. flags
  for (const f of flags.values as FlagValue[]) {
    try {
      values.set(f.key.path, f.key.spec.parse(f.text, { cwd, origin: `flag ${f.flag}`, from: 'text' }));
      if (f.key.spec.fills !== undefined) rawFiles.set(f.key.path, f.text);
    } catch (err) {
      wrap(f.key, `flag ${f.flag}`, err);
    }
    sources[f.key.path] = 'flag';
  }

  // 4b. the mode presets the source and receiver switches nobody set explicitly.
  const preset = MODE_PRESETS[values.get('mode') as Mode];
  for (const path of MODE_SWITCHES) {
    if (sources[path] !== 'default') continue;
    values.set(path, preset[path]);
    sources[path] = 'mode';
  }

  /** Where the effective value of `key` was set, for messages about it. */
  const originOf = (key: KeyInfo): string => {
    switch (sources[key.path]) {
      case 'file':
        return `${file!} line ${fileLines.get(key.path) ?? 0}`;
      case 'flag':
        return `flag ${key.flag!}`;
      case 'env':
        return `env ${key.env}`;
      default:
        return 'default';
    }
  };

  // 5. secret files fill their secret; setting both is ambiguous, so it is an error.
  for (const key of KEYS) {
    const fills = key.spec.fills;
    const secretPath = values.get(key.path);
    if (fills === undefined || secretPath === undefined) continue;
    const target = KEYS_BY_PATH.get(fills)!;
    if (sources[target.path] !== 'default') {
      throw new ConfigError(target.path, `both ${target.path} (${target.env}) and ${key.path} (${key.env}) are set; set only one`);
    }
    try {
      values.set(target.path, fileSecrets(target, secretPath as string, rawFiles.get(key.path) ?? ''));
    } catch (err) {
      wrap(key, originOf(key), err);
    }
    sources[target.path] = sources[key.path]!;
  }

  // 6. final checks on single values (a CA file must be readable), then across keys.
  for (const key of KEYS) {
    const v = values.get(key.path);
    if (key.spec.check === undefined || v === undefined || sources[key.path] === 'default') continue;
    try {
      key.spec.check(v);
    } catch (err) {
      wrap(key, originOf(key), err);
    }
  }

  const root: Record<string, unknown> = {};
  for (const key of KEYS) setPath(root, key.path, values.get(key.path));
  const config = deepFreeze(root) as unknown as SextantConfig;
  crossCheck(config);
  return { config, sources: Object.freeze(sources), file, local, switches: flags.switches, warnings: warningsFor(config, local) };
}

function crossCheck(c: SextantConfig): void {
  if (c.apiToken !== undefined && Object.hasOwn(c.headers, 'authorization')) {
    throw new ConfigError('headers', 'has an Authorization header while apiToken (SEXTANT_API_TOKEN) is set; the token already sets it, so remove one');
  }
  if (c.export.retryInitialBackoff > c.export.retryMaxBackoff) {
    throw new ConfigError(
      'export.retryInitialBackoff',
      'is longer than export.retryMaxBackoff (SEXTANT_EXPORT_RETRY_MAX_BACKOFF); the first retry delay cannot exceed the longest',
    );
  }
  if (c.export.retryMaxElapsed !== 0 && c.export.retryMaxElapsed < c.export.retryInitialBackoff) {
    throw new ConfigError('export.retryMaxElapsed', 'is shorter than export.retryInitialBackoff, so no retry would ever happen; use 0 to retry forever');
  }
  if (c.gateway.maxDecompressedBytes < c.gateway.maxRequestBytes) {
    throw new ConfigError('gateway.maxDecompressedBytes', 'is smaller than gateway.maxRequestBytes; an uncompressed request of the allowed size would be refused');
  }
  if (c.receiver.enabled && c.receiver.maxDecompressedBytes > c.pipeline.traces.maxBytes) {
    throw new ConfigError(
      'receiver.maxDecompressedBytes',
      'is larger than pipeline.traces.maxBytes (SEXTANT_PIPELINE_TRACES_MAX_BYTES), the budget every received request must fit in; such a request could never be taken',
    );
  }
  if (c.gateway.store.maxFileBytes > c.gateway.store.maxTotalBytes) {
    throw new ConfigError('gateway.store.maxFileBytes', 'is larger than gateway.store.maxTotalBytes; one file cannot exceed the whole store');
  }
}

function warningsFor(c: SextantConfig, local: boolean): ConfigWarning[] {
  const w: ConfigWarning[] = [];
  if (c.tls.insecureSkipVerify) w.push({ key: 'tls.insecureSkipVerify', message: 'TLS certificate verification is off: anyone on the path can read and change what is sent' });
  // With --local the in-process gateway is keyed with a per-run token: no open gateway to warn of.
  if (c.gateway.tokens.length === 0 && !local) w.push({ key: 'gateway.tokens', message: 'the gateway accepts data without a token (set SEXTANT_GATEWAY_TOKENS)' });
  if (c.apiToken !== undefined && c.endpoint?.startsWith('http:') === true) {
    w.push({ key: 'endpoint', message: 'the API token is sent over plain http' });
  }
  if (c.gateway.upstreamToken !== undefined && c.gateway.upstream === undefined) {
    w.push({ key: 'gateway.upstreamToken', message: 'is set but gateway.upstream is not, so it is unused' });
  }
  return w;
}
