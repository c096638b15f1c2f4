import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node, YAMLMap } from 'yaml';

type YamlLib = typeof import('yaml');
let yamlLib: YamlLib | undefined;
/**
 * The YAML parser costs ~6 MB of resident memory (measured: BENCHMARKS.md), and most agents run
 * on environment variables alone: load it when a config file is actually read.
 */
function yaml(): YamlLib {
  return (yamlLib ??= createRequire(import.meta.url)('yaml') as YamlLib);
}
import { ConfigError } from '../errors.js';
import { closest, printable } from '../config-kinds/names.js';
import { KEYS_BY_PATH, SECTIONS, type KeyInfo } from './schema.js';
import { errnoText } from '../config-kinds/values.js';

/** A config file is a few kilobytes; anything past this is not one (and is not read into memory). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** YAML aliases can expand exponentially ("billion laughs"); a config file needs few. */
const MAX_ALIAS_COUNT = 50;

/**
 * What a YAML error code means, in words. The library's own messages can quote pieces of the
 * source, and the source may hold a token, so they are not passed on.
 */
const YAML_PROBLEMS: Partial<Record<string, string>> = {
  BAD_INDENT: 'bad indentation',
  TAB_AS_INDENT: 'a tab used for indentation (use spaces)',
  DUPLICATE_KEY: 'a key appears twice in the same mapping',
  MULTIPLE_DOCS: 'more than one YAML document (---); a config file holds one',
  MISSING_CHAR: 'a quote or bracket is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'a key cannot span several lines',
  MULTILINE_IMPLICIT_KEY: 'a key cannot span several lines',
  UNEXPECTED_TOKEN: 'unexpected character',
  BAD_DQ_ESCAPE: 'bad escape sequence in a double-quoted string',
  BAD_ALIAS: 'an alias (*name) that refers to no anchor',
  BAD_SCALAR_START: 'a value cannot start with this character (quote it)',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  BLOCK_IN_FLOW: 'a block value inside a flow collection ([...] or {...})',
  RESOURCE_EXHAUSTION: 'too many aliases',
  TAG_RESOLVE_FAILED: 'a value does not match its tag',
};

/** One value set in the file. */
export interface FileValue {
  readonly key: KeyInfo;
  readonly value: unknown;
  /** 1-based line of the key, for messages. */
  readonly line: number;
}

function fileError(file: string, what: string): ConfigError {
  return new ConfigError('config', `${printable(file, 200)}: ${what}`);
}

/** Reads at most MAX_CONFIG_FILE_BYTES + 1 bytes, so a huge file or a device is refused, not slurped. */
function readBounded(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw fileError(file, `cannot read the config file: ${errnoText(err)}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw fileError(file, 'is a directory, not a config file');
    if (!st.isFile()) throw fileError(file, 'is not a regular file');
    if (st.size > MAX_CONFIG_FILE_BYTES) throw fileError(file, `is ${st.size} bytes; a config file is at most ${MAX_CONFIG_FILE_BYTES} bytes`);
    const buf = Buffer.allocUnsafe(MAX_CONFIG_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > MAX_CONFIG_FILE_BYTES) throw fileError(file, `is larger than ${MAX_CONFIG_FILE_BYTES} bytes; a config file is at most that`);
    }
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw fileError(file, `cannot read the config file: ${errnoText(err)}`);
  } finally {
    closeSync(fd);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function lineOf(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

function decode(file: string, bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  if (nul !== -1) throw fileError(file, `line ${lineOf(bytes, nul)}: contains a NUL byte; this looks like a binary file, not YAML`);
  try {
    return UTF8.decode(bytes);
  } catch {
    // Find the first bad byte for the line number: decode growing prefixes would be quadratic,
    // so let Buffer's replacement decoding mark it.
    const replaced = bytes.toString('utf8');
    const at = replaced.indexOf('\uFFFD');
    const line = at === -1 ? 1 : replaced.slice(0, at).split('\n').length;
    throw fileError(file, `line ${line}: not valid UTF-8 text`);
  }
}

/**
 * Reads and parses a YAML config file into the values it sets. Unknown keys are errors, with
 * the closest known key suggested; so are keys written with dots (`gateway.dataDir:`) instead of
 * nested. Values are checked later, by the loader, against their key's type.
 */
export function readConfigFile(file: string): FileValue[] {
  const source = decode(file, readBounded(file));
  const { LineCounter: Lines, parseDocument } = yaml();
  const lines = new Lines();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, schema: 'core' });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = lines.linePos(first.pos[0]);
    throw fileError(file, `line ${pos.line}, column ${pos.col}: not valid YAML: ${YAML_PROBLEMS[first.code] ?? first.code.toLowerCase().replaceAll('_', ' ')}`);
  }
  const root = doc.contents;
  if (root === null || (yaml().isScalar(root) && (root.value === null || root.value === undefined))) return [];
  if (!yaml().isMap(root)) throw fileError(file, 'must be a YAML mapping of settings (key: value)');
  const out: FileValue[] = [];
  walk(doc, root, '', file, lines, out);
  return out;
}

function walk(doc: Document, map: YAMLMap, prefix: string, file: string, lines: LineCounter, out: FileValue[]): void {
  const { isAlias, isMap, isScalar } = yaml();
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null;
    const line = lines.linePos(keyNode?.range?.[0] ?? map.range?.[0] ?? 0).line;
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      throw fileError(file, `line ${line}: keys must be plain names`);
    }
    const name = keyNode.value;
    const path = prefix === '' ? name : `${prefix}.${name}`;
    if (name.includes('.') || name === '') {
      const nested = KEYS_BY_PATH.has(path) || SECTIONS.has(path);
      throw new ConfigError(printable(path), `${printable(file, 200)} line ${line}: write nested keys, not dotted names${nested ? ` (${path.split('.').join(': ')}: ...)` : ''}`);
    }
    let value = pair.value as Node | null;
    if (isAlias(value)) value = (value.resolve(doc) as Node | undefined) ?? null;
    const key = KEYS_BY_PATH.get(path);
    if (key !== undefined) {
      let js: unknown;
      try {
        js = value === null ? null : value.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
      } catch {
        // The library refuses an alias expansion that grows too large ("billion laughs").
        throw fileError(file, `line ${line}: too many alias expansions`);
      }
      // `key:` with no value (or `null`) leaves the default in place; `check` prints unset keys so.
      if (js !== null && js !== undefined) out.push({ key, value: js, line });
      continue;
    }
    if (SECTIONS.has(path)) {
      if (value === null || (isScalar(value) && value.value === null)) continue;
      if (!isMap(value)) throw new ConfigError(path, `${printable(file, 200)} line ${line}: must be a mapping of settings, not a single value`);
      walk(doc, value, path, file, lines, out);
      continue;
    }
    const suggestion = closest(path, [...KEYS_BY_PATH.keys(), ...SECTIONS]);
    throw new ConfigError(
      printable(path, 80),
      `unknown key in ${printable(file, 200)} line ${line}${suggestion !== undefined ? `; did you mean ${suggestion}?` : ''}`,
    );
  }
}
