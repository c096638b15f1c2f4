import { ConfigError, SextantError } from '../errors.js';
import { closest, flagName, printable } from '../config-kinds/names.js';
import { CONFIG_FILE_FLAG, KEYS, KEYS_BY_FLAG, type KeyInfo } from './schema.js';

/** The command line was wrong (unknown flag, missing value, stray argument): exit 2 with usage. */
export class UsageError extends SextantError {
  constructor(message: string) {
    super('SEXTANT_ERR_USAGE', message);
  }
}

/** A config value given as a flag, in argv order. */
export interface FlagValue {
  readonly key: KeyInfo;
  readonly flag: string;
  readonly text: string;
}

export interface ParsedFlags {
  /** `--config FILE`, as given (not yet resolved). */
  readonly configFile: string | undefined;
  /** Command switches that were present (`--local`, `--once`, `--help`). */
  readonly switches: ReadonlySet<string>;
  readonly values: readonly FlagValue[];
}

/** Secret keys by the flag they would have had, to explain why there is none. */
const SECRET_FLAGS: ReadonlyMap<string, KeyInfo> = new Map(
  KEYS.filter((k) => k.flag === undefined).map((k) => [flagName(k.path), k]),
);

function secretFlagError(key: KeyInfo): ConfigError {
  const file = KEYS.find((k) => k.spec.fills === key.path);
  const alternative = file !== undefined ? `${key.env}, ${file.env} or ${file.flag}` : key.env;
  return new ConfigError(key.path, `cannot be given as a flag: flags are visible to every user in the process list; use ${alternative}`);
}

/**
 * Parses `--key value`, `--key=value`, `--switch`, `--no-switch` for every non-secret config
 * key plus the command's own switches. Values are never echoed in errors (one may be a token).
 */
export function parseFlags(argv: readonly string[], commandSwitches: ReadonlySet<string>): ParsedFlags {
  let configFile: string | undefined;
  const switches = new Set<string>();
  const values: FlagValue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' && commandSwitches.has('--help')) {
      switches.add('--help');
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      // Not echoed: a stray argument is as likely a pasted token as a typo.
      throw new UsageError(arg.startsWith('-') && arg !== '-' && arg !== '--' ? `unknown flag ${printable(arg.split('=')[0]!, 40)}` : `unexpected argument (#${i + 1})`);
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${name} needs a value`);
      i++;
      return next;
    };

    if (commandSwitches.has(name)) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      switches.add(name);
      continue;
    }
    if (name === CONFIG_FILE_FLAG) {
      configFile = takeValue();
      continue;
    }
    const key = KEYS_BY_FLAG.get(name);
    if (key !== undefined) {
      values.push({ key, flag: name, text: key.spec.switch && inline === undefined ? 'true' : takeValue() });
      continue;
    }
    const negated = name.startsWith('--no-') ? KEYS_BY_FLAG.get('--' + name.slice(5)) : undefined;
    if (negated !== undefined && negated.spec.switch && inline === undefined) {
      values.push({ key: negated, flag: name, text: 'false' });
      continue;
    }
    const secretKey = SECRET_FLAGS.get(name);
    if (secretKey !== undefined) throw secretFlagError(secretKey);
    const suggestion = closest(name.slice(2), [...KEYS_BY_FLAG.keys(), ...commandSwitches, CONFIG_FILE_FLAG].map((f) => f.slice(2)));
    throw new UsageError(`unknown flag ${printable(name, 60)}${suggestion !== undefined ? ` (did you mean --${suggestion}?)` : ''}`);
  }
  return { configFile, switches, values };
}
