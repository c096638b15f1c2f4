import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { printable } from './names.js';
import { Secret } from './secret.js';

/**
 * The value types a config key can have. Each turns text (an environment variable or a flag)
 * or a YAML value into the typed value, and back into something printable for `sextant check`.
 *
 * A parser that rejects a value throws `Problem` with what was wrong and what would be right,
 * and NEVER the value itself: a token pasted into the wrong variable must not reach stderr.
 */
export class Problem extends Error {}

/** What a parser knows about where a value came from. */
export interface ParseContext {
  /** Relative paths resolve against this. */
  readonly cwd: string;
  /** Where the value came from, for a Secret's `source`: `env SEXTANT_API_TOKEN`, `file /etc/sextant.yaml`. */
  readonly origin: string;
  /** 'text' for env and flags, 'yaml' for the config file. */
  readonly from: 'text' | 'yaml';
}

/** What a default may depend on. */
export interface DefaultContext {
  readonly local: boolean;
}

export interface KeySpec<T> {
  /** A short name of the type for usage text: `duration`, `integer 1..64`, `delta|cumulative`. */
  readonly type: string;
  readonly description: string;
  readonly default: T | ((ctx: DefaultContext) => T);
  /** A secret: held as `Secret`, never settable by a flag, shown as `[redacted]`. */
  readonly secret: boolean;
  /** Shown redacted by `sextant check` (secrets, and header values that may carry credentials). */
  readonly sensitive: boolean;
  /** A flag that takes no value (`--once`-style booleans; `--no-x` and `--x=false` also work). */
  readonly switch: boolean;
  /** For a secret file: the path of the secret key its contents fill. */
  readonly fills?: string;
  parse(value: unknown, ctx: ParseContext): T;
  /** Turns a default into its final form (paths resolve against the working directory). */
  fromDefault?(value: T, ctx: ParseContext): T;
  /** Checks the final value once all layers are merged (a CA file must be readable). */
  check?(value: T): void;
  /** A plain value for YAML output (durations and sizes in their unit form, secrets redacted). */
  show(value: T): unknown;
}

const REDACTED = '[redacted]';
/** setTimeout fires at once for anything above 2^31-1 ms, so no duration may exceed it. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface Common {
  description: string;
}

function spec<T>(
  type: string,
  o: Common & { default: T | ((ctx: DefaultContext) => T) },
  parse: (value: unknown, ctx: ParseContext) => T,
  show: (value: T) => unknown = (v) => v,
  extra: Partial<Pick<KeySpec<T>, 'secret' | 'sensitive' | 'switch' | 'fills'>> = {},
): KeySpec<T> {
  return {
    type,
    description: o.description,
    default: o.default,
    secret: extra.secret ?? false,
    sensitive: extra.sensitive ?? extra.secret ?? false,
    switch: extra.switch ?? false,
    ...(extra.fills !== undefined ? { fills: extra.fills } : {}),
    parse,
    show,
  };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

/** Text of a scalar: env/flag text trimmed; in YAML only strings are accepted as text. */
function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Problem(`expected ${what}, got ${typeName(value)}`);
  return value.trim();
}

// ---------------------------------------------------------------------------------------------
// durations

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_HINT = 'write a number with a unit, e.g. 500ms, 10s, 2m, 1h or 1m30s';

/** `10s`, `500ms`, `2m`, `1h`, `1m30s` → milliseconds; undefined when it is not a duration. */
export function parseDurationText(s: string): number | undefined {
  if (s.length === 0 || s.length > 64) return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < s.length) {
    const m = DURATION_PART.exec(s);
    if (m === null) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function describeBound(ms: number): string {
  return formatDuration(ms);
}

/**
 * A duration in milliseconds. Text (env, flags) must carry a unit: a bare number is rejected
 * because `SEXTANT_INTERVAL=10` is as likely meant as seconds as milliseconds; only `0` needs no
 * unit. In YAML a plain number is milliseconds.
 */
export function duration(o: Common & { default: string; min?: string; max?: string; zero?: string }): KeySpec<number> {
  const def = o.default === '0' ? 0 : parseDurationText(o.default);
  const min = o.min !== undefined ? parseDurationText(o.min)! : 0;
  const max = o.max !== undefined ? parseDurationText(o.max)! : MAX_TIMER_MS;
  if (def === undefined) throw new Error(`bad default duration ${o.default}`);
  const check = (ms: number): number => {
    if (!Number.isInteger(ms)) throw new Problem('durations have millisecond resolution; use a whole number of milliseconds');
    // `zero` names what 0 means for this key (off, forever), so it is allowed below `min`.
    if (ms === 0 && o.zero !== undefined) return 0;
    if (ms < min) throw new Problem(`must be at least ${describeBound(min)}${o.zero !== undefined ? ` (or 0 for ${o.zero})` : ''}`);
    if (ms > max) throw new Problem(`must be at most ${describeBound(max)}`);
    return ms;
  };
  return spec(
    o.zero !== undefined ? `duration (0 = ${o.zero})` : 'duration',
    { description: o.description, default: def },
    (value, ctx) => {
      if (typeof value === 'number' && ctx.from === 'yaml') {
        if (!Number.isFinite(value) || value < 0) throw new Problem(`not a duration: a number here is milliseconds and must be a finite number >= 0`);
        try {
          return check(value);
        } catch (err) {
          // `interval: 10` meant as seconds is the likely slip; say how the number was read.
          throw new Problem(`${(err as Error).message} (a plain number in YAML is milliseconds; write 10s for seconds)`);
        }
      }
      const s = text(value, 'a duration');
      if (/^\d+$/.test(s) && Number(s) !== 0) {
        throw new Problem(`a bare number has no unit; ${DURATION_HINT}`);
      }
      if (s === '0') return check(0);
      const ms = parseDurationText(s);
      if (ms === undefined) throw new Problem(`not a duration; ${DURATION_HINT}`);
      return check(ms);
    },
    formatDuration,
  );
}

// ---------------------------------------------------------------------------------------------
// byte sizes

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const BYTES_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;
const BYTES_HINT = 'write bytes or a number with a unit: 1048576, 512KiB, 16MiB, 2MB, 1GiB';

export function parseBytesText(s: string): number | undefined {
  if (s.length > 64) return undefined;
  const m = BYTES_PATTERN.exec(s);
  if (m === null) return undefined;
  const unit = BYTE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Number(m[1]) * unit;
}

export function formatBytes(n: number): string | number {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return n;
}

/** Why a cap exists, added to its out-of-range message. */
export interface Bound {
  value: number;
  why?: string;
}

export function bytes(o: Common & { default: string | number; min?: number; max?: Bound; zero?: string }): KeySpec<number> {
  const def = typeof o.default === 'number' ? o.default : parseBytesText(o.default);
  if (def === undefined) throw new Error(`bad default size ${String(o.default)}`);
  const min = o.min ?? 0;
  const check = (n: number): number => {
    if (!Number.isSafeInteger(n)) throw new Problem('not a whole number of bytes');
    // `zero` names what 0 means for this key (off, automatic), so it is allowed below `min`.
    if (n === 0 && o.zero !== undefined) return 0;
    if (n < min) throw new Problem(`must be at least ${formatBytes(min)}${o.zero !== undefined ? ` (or 0 for ${o.zero})` : ''}`);
    if (o.max !== undefined && n > o.max.value) {
      const shown = formatBytes(o.max.value);
      throw new Problem(`must be at most ${typeof shown === 'number' ? `${shown} bytes` : `${shown} (${o.max.value} bytes)`}${o.max.why !== undefined ? `: ${o.max.why}` : ''}`);
    }
    return n;
  };
  return spec(
    o.zero !== undefined ? `byte size (0 = ${o.zero})` : 'byte size',
    { description: o.description, default: def },
    (value, ctx) => {
      if (typeof value === 'number' && ctx.from === 'yaml') {
        if (!Number.isFinite(value) || value < 0) throw new Problem(`not a byte size; ${BYTES_HINT}`);
        return check(value);
      }
      const n = parseBytesText(text(value, 'a byte size'));
      if (n === undefined) throw new Problem(`not a byte size; ${BYTES_HINT}`);
      return check(n);
    },
    formatBytes,
  );
}

// ---------------------------------------------------------------------------------------------
// integers, booleans, enums

export function integer(o: Common & { default: number; min: number; max: Bound }): KeySpec<number> {
  return spec(
    `integer ${o.min}..${o.max.value}`,
    o,
    (value, ctx) => {
      let n: number;
      if (typeof value === 'number' && ctx.from === 'yaml') n = value;
      else {
        const s = text(value, 'an integer');
        if (!/^[+-]?\d{1,16}$/.test(s)) throw new Problem(`not an integer; write a whole number from ${o.min} to ${o.max.value}`);
        n = Number(s);
      }
      if (!Number.isSafeInteger(n)) throw new Problem(`not an integer; write a whole number from ${o.min} to ${o.max.value}`);
      if (n < o.min) throw new Problem(`must be at least ${o.min}`);
      if (n > o.max.value) throw new Problem(`must be at most ${o.max.value}${o.max.why !== undefined ? `: ${o.max.why}` : ''}`);
      return n;
    },
  );
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

export function boolean(o: Common & { default: boolean }): KeySpec<boolean> {
  return spec(
    'boolean',
    o,
    (value) => {
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      const s = text(value, 'a boolean').toLowerCase();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
      throw new Problem('not a boolean; write true or false (1/0 and yes/no also work)');
    },
    (v) => v,
    { switch: true },
  );
}

export function oneOf<const V extends string>(o: Common & { values: readonly V[]; default: V }): KeySpec<V> {
  const allowed = new Set<string>(o.values);
  return spec(o.values.join('|'), o, (value) => {
    const s = text(value, `one of ${o.values.join(', ')}`).toLowerCase();
    if (!allowed.has(s)) throw new Problem(`must be one of ${o.values.join(', ')}`);
    return s as V;
  });
}

// ---------------------------------------------------------------------------------------------
// strings, paths, URLs, addresses

function parsePath(value: unknown, ctx: ParseContext): string {
  const s = text(value, 'a path');
  if (s.length === 0) throw new Problem('empty path');
  if (s.includes('\0')) throw new Problem('a path cannot contain a NUL byte');
  if (s.length > 4096) throw new Problem('path longer than 4096 characters');
  return resolve(ctx.cwd, s);
}

/**
 * Fails unless `p` is a regular file this process can read. The path is not repeated in the
 * message: the message names the setting, and a path setting sometimes holds a pasted token.
 */
export function checkReadableFile(p: string): void {
  let st;
  try {
    st = statSync(p);
    accessSync(p, constants.R_OK);
  } catch (err) {
    throw new Problem(`cannot read the file: ${errnoText(err)}`);
  }
  if (!st.isFile()) throw new Problem('not a regular file');
}

export function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case undefined:
      return 'unreadable';
    default:
      return code;
  }
}

/** A filesystem path, resolved against the working directory. `file` demands a readable file. */
export function path(o: Common & { default: string | ((ctx: DefaultContext) => string) }): KeySpec<string>;
export function path(o: Common & { file?: boolean }): KeySpec<string | undefined>;
export function path(o: Common & { default?: string | ((ctx: DefaultContext) => string); file?: boolean }): KeySpec<string | undefined> {
  const s = spec<string | undefined>(o.file === true ? 'path (file)' : 'path', { description: o.description, default: o.default }, parsePath);
  return {
    ...s,
    fromDefault: (v, ctx) => (v === undefined ? undefined : resolve(ctx.cwd, v)),
    ...(o.file === true ? { check: (v: string | undefined) => v !== undefined && checkReadableFile(v) } : {}),
  };
}

/**
 * An http(s) base URL, returned without a trailing slash so `${url}/v1/logs` is right. No
 * credentials (they would be printed wherever the URL is), no query or fragment (the agent
 * appends paths to it).
 */
export function url(o: Common): KeySpec<string | undefined> {
  return spec<string | undefined>('http(s) URL', { description: o.description, default: undefined }, (value) => {
    const s = text(value, 'a URL');
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Problem('not a valid URL; write e.g. https://host/e/ENV/api/v2/otlp or http://collector:4318');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Problem('must be an http:// or https:// URL');
    if (u.username !== '' || u.password !== '') {
      throw new Problem('must not contain credentials (user:password@): URLs are printed in logs; use a token setting instead');
    }
    if (u.search !== '' || u.hash !== '') throw new Problem('must not have a query string or fragment; paths are appended to it');
    return u.href.replace(/\/+$/, '');
  });
}

export interface ListenAddress {
  /** Host or IP to bind; an IPv6 address without brackets. */
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

const LISTEN_HINT = 'write host:port, e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464';
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/;

export function parseListenText(s: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.%A-Za-z]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (m === null) throw new Problem(`not a listen address; ${LISTEN_HINT}`);
  const host = m[1] ?? m[2]!;
  if (host === '') throw new Problem(`no host; ${LISTEN_HINT} (0.0.0.0 listens on every interface)`);
  if (m[1] === undefined && !HOSTNAME.test(host)) throw new Problem(`not a valid host name; ${LISTEN_HINT}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Problem('port must be 0..65535');
  return { host, port };
}

export function listen(o: Common & { default: string }): KeySpec<ListenAddress> {
  return spec(
    'host:port',
    { description: o.description, default: parseListenText(o.default) },
    (value) => parseListenText(text(value, 'a host:port address')),
    formatListen,
  );
}

// ---------------------------------------------------------------------------------------------
// lists and header maps

function listItems(value: unknown, ctx: ParseContext, what: string): string[] {
  if (Array.isArray(value) && ctx.from === 'yaml') {
    return value.map((v, i) => {
      if (typeof v !== 'string' && typeof v !== 'number') throw new Problem(`item ${i + 1}: expected ${what}, got ${typeName(v)}`);
      return String(v).trim();
    });
  }
  return text(value, `a comma-separated list or a YAML list`)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function list(o: Common & { default?: readonly string[] }): KeySpec<readonly string[]> {
  return spec('list', { description: o.description, default: o.default ?? [] }, (value, ctx) => listItems(value, ctx, 'a string'));
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** Headers the transport sets itself; letting config override them would break the request. */
const RESERVED_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'transfer-encoding', 'host', 'connection']);

function header(name: string, value: string, out: Record<string, string>, n: number): void {
  const lower = name.trim().toLowerCase();
  if (!HEADER_NAME.test(lower)) throw new Problem(`header ${n}: not a valid header name`);
  if (RESERVED_HEADERS.has(lower)) throw new Problem(`header ${n}: ${lower} is set by sextant itself`);
  if (!HEADER_VALUE.test(value)) throw new Problem(`header ${lower}: the value contains control or non-ASCII characters`);
  if (Object.hasOwn(out, lower)) throw new Problem(`header ${lower} is given twice`);
  out[lower] = value.trim();
}

/** Extra request headers: `k=v,k2=v2` as text, a mapping in YAML. Names are lower-cased. */
export function headers(o: Common): KeySpec<Readonly<Record<string, string>>> {
  return spec<Readonly<Record<string, string>>>(
    'headers (k=v,k2=v2)',
    { description: o.description, default: {} },
    (value, ctx) => {
      const out: Record<string, string> = Object.create(null) as Record<string, string>;
      if (ctx.from === 'yaml' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        let n = 0;
        for (const [k, v] of Object.entries(value)) {
          n++;
          if (typeof v !== 'string' && typeof v !== 'number') throw new Problem(`header ${n}: the value must be a string, got ${typeName(v)}`);
          header(k, String(v), out, n);
        }
        return { ...out };
      }
      const s = text(value, 'k=v,k2=v2 headers or a YAML mapping');
      let n = 0;
      for (const part of s.split(',')) {
        if (part.trim() === '') continue;
        n++;
        const eq = part.indexOf('=');
        if (eq <= 0) throw new Problem(`header ${n}: expected name=value`);
        header(part.slice(0, eq), part.slice(eq + 1), out, n);
      }
      return { ...out };
    },
    // Header values often are credentials for other backends (x-api-key, Authorization: Bearer).
    (v) => Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED])),
    { sensitive: true },
  );
}

// ---------------------------------------------------------------------------------------------
// secrets

const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** Checks a token's characters; the message never includes the token. */
export function checkToken(s: string, label = 'the token'): string {
  if (s.length === 0) throw new Problem(`${label} is empty`);
  if (s.length > 16384) throw new Problem(`${label} is longer than 16384 characters`);
  if (!TOKEN_CHARS.test(s)) throw new Problem(`${label} contains spaces, control or non-ASCII characters`);
  return s;
}

export function secret(o: Common): KeySpec<Secret | undefined> {
  return spec<Secret | undefined>(
    'secret',
    { description: o.description, default: undefined },
    (value, ctx) => {
      // Not trimmed: a token with whitespace around it is rejected, not silently changed.
      if (typeof value !== 'string') throw new Problem(`expected a string, got ${typeName(value)}`);
      return new Secret(checkToken(value), ctx.origin);
    },
    () => REDACTED,
    { secret: true },
  );
}

export function secretList(o: Common): KeySpec<readonly Secret[]> {
  return spec<readonly Secret[]>(
    'secret list',
    { description: o.description, default: [] },
    (value, ctx) => {
      const items = Array.isArray(value) && ctx.from === 'yaml' ? value : typeof value === 'string' ? value.split(',') : undefined;
      if (items === undefined) throw new Problem(`expected a comma-separated list or a YAML list, got ${typeName(value)}`);
      const out: Secret[] = [];
      items.forEach((v, i) => {
        if (typeof v !== 'string') throw new Problem(`item ${i + 1}: expected a string, got ${typeName(v)}`);
        const s = v.trim();
        if (s !== '') out.push(new Secret(checkToken(s, `token ${i + 1}`), ctx.origin));
      });
      return out;
    },
    (v) => v.map(() => REDACTED),
    { secret: true },
  );
}

/** The path of a file holding the secret `fills`; read once when the config is loaded. */
export function secretFile(o: Common & { fills: string }): KeySpec<string | undefined> {
  const p = path({ description: o.description });
  return { ...p, type: 'path (secret file)', fills: o.fills };
}

// ---------------------------------------------------------------------------------------------
// regular expressions

/**
 * A regular expression (JavaScript syntax), kept as text and compiled once here so a bad pattern
 * is a config error at start, naming the key, rather than a throw in a collection cycle.
 * Empty means "no pattern".
 */
export function pattern(o: Common & { default: string }): KeySpec<string> {
  return spec('regex', { description: o.description, default: o.default }, (value) => {
    const source = text(value, 'a regular expression');
    if (source.length > 1000) throw new Problem('a pattern longer than 1000 characters');
    try {
      new RegExp(source);
    } catch {
      throw new Problem('not a valid regular expression (JavaScript syntax)');
    }
    return source;
  });
}

/**
 * Paths on the host, absolute, read under `hostRoot` (not resolved against the working
 * directory: `/var/run/docker.sock` means the host's socket wherever the agent runs). Empty
 * list allowed: it turns the feature off.
 */
export function hostPaths(o: Common & { default: readonly string[] }): KeySpec<readonly string[]> {
  return spec('list of absolute host paths', { description: o.description, default: o.default }, (value, ctx) => {
    const items = listItems(value, ctx, 'an absolute path');
    items.forEach((p, i) => {
      if (!p.startsWith('/')) throw new Problem(`item ${i + 1}: expected an absolute path (it is read under hostRoot)`);
      if (p.includes('\0') || p.length > 4096) throw new Problem(`item ${i + 1}: not a usable path`);
    });
    return items;
  });
}

/** A DNS-1123-style name (a Kubernetes node name): lower-case letters, digits, `-` and `.`; empty means "not set". */
export function dnsName(o: Common & { default: string }): KeySpec<string> {
  return spec('name', { description: o.description, default: o.default }, (value) => {
    const s = text(value, 'a name').trim();
    if (s.length > 253 || !/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$/.test(s)) {
      throw new Problem('expected a DNS-1123 name: lower-case letters, digits, "-" and ".", at most 253 characters');
    }
    return s;
  });
}
