import { KEYS } from '../config/schema.js';
import { formatDuration } from '../config-kinds/values.js';

export const COMMANDS = ['agent', 'gateway', 'webhook', 'check', 'top', 'version', 'help'] as const;
export type Command = (typeof COMMANDS)[number];

export const USAGE = `Usage: sextant <command> [options]

Commands:
  agent     collect from this node (and, with the receiver, what its applications
            send over OTLP) and export over OTLP/HTTP
              [--config FILE] [--once] [--local] [config flags]
  gateway   receive OTLP/HTTP, authenticate, store locally, forward upstream
              [--config FILE] [config flags]
  webhook   mutating admission webhook (HTTPS, POST /mutate): injects Node.js
            auto-instrumentation into pods annotated sextant.dev/inject-nodejs
              [--config FILE] [config flags]
  check     print the effective configuration (secrets redacted) and exit
              [--config FILE] [--local] [config flags]
  top       live view of a running agent: rates per source, rings, drops, export
            latency, checkpoint lag, CPU and memory (one table when not on a terminal)
              [--target URL (default: SEXTANT_LISTEN, 127.0.0.1:9464)] [--interval 1s]
  version   print the sextant and Node.js versions
  help      print this text; "sextant help config" lists every setting

Options:
  --config FILE   YAML config file (or SEXTANT_CONFIG=FILE)
  --once          agent: collect and export once, then exit
  --local         agent, check: run against an in-process gateway writing to ./data
  -h, --help      print this text

Every setting has a YAML key, a SEXTANT_* environment variable and (except secrets) a flag;
precedence: defaults < config file < environment < flags. Example:
  endpoint: https://abc123.live.dynatrace.com/api/v2/otlp   # SEXTANT_ENDPOINT, --endpoint
Secrets (apiToken, gateway tokens) come from the environment or a file, never from a flag.
`;

function shownDefault(value: unknown, show: (v: never) => unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'function') return '(see description)';
  const v = show(value as never);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** `sextant help config`: every key with its names, type and default, generated from the schema. */
export function configHelp(): string {
  const out: string[] = ['Settings (YAML key / environment variable / flag — type, default):', ''];
  for (const k of KEYS) {
    const def = shownDefault(k.spec.default, k.spec.show as (v: never) => unknown);
    out.push(`  ${k.path}`);
    out.push(`      ${k.env}${k.flag !== undefined ? `  ${k.flag}` : '  (no flag: secret)'}`);
    out.push(`      ${k.spec.type}${def !== '' ? `, default ${def}` : ''}`);
    out.push(`      ${k.spec.description}`);
  }
  out.push('', `Durations take a unit (500ms, 10s, 2m, 1h; in YAML a plain number is ms). Timers cap at ${formatDuration(2 ** 31 - 1)}.`);
  out.push('Sizes take bytes or a unit (1048576, 512KiB, 16MiB, 2MB). Lists and headers are comma-separated (a=1,b=2) in env and flags.');
  return out.join('\n') + '\n';
}
