import { ConfigError } from '../errors.js';
import { packageVersion } from '../version.js';
import { UsageError } from '../config/flags.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { SextantConfig } from '../config/schema.js';
import { COMMANDS, configHelp, USAGE, type Command } from './usage.js';

/**
 * The `sextant` command: parse, load the config, dispatch. Nothing here collects or exports;
 * `agent` and `gateway` load their (heavy) modules only when run, so `check` and `version` start
 * fast and work even where the agent could not.
 */

export interface CliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Called with the agent's configuration before it starts (the executable relaunches Node with the V8 limits here). */
  readonly beforeAgent?: ((loaded: LoadedConfig) => void) | undefined;
  /** Called with the gateway's configuration before it starts (the executable relaunches Node with the heap floor here). */
  readonly beforeGateway?: ((loaded: LoadedConfig) => void) | undefined;
}

export type RunAgent = (config: SextantConfig, options: { once: boolean; local: boolean; loaded: LoadedConfig }) => Promise<number>;
export type RunGateway = (config: SextantConfig, options: { loaded: LoadedConfig }) => Promise<number>;
export type RunWebhook = (config: SextantConfig, options: { loaded: LoadedConfig }) => Promise<number>;

/** Exit statuses: 0 fine, 1 failed while running, 2 bad command line or config. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

// Held in variables so the type checker does not follow them into the agent's whole graph.
const AGENT_MODULE = '../agent/run.js';
const GATEWAY_MODULE = '../gateway/run.js';
const WEBHOOK_MODULE = '../webhook/run.js';

async function importRunner<T>(specifier: string, name: string): Promise<T> {
  const mod = (await import(specifier)) as Record<string, unknown>;
  const fn = mod[name];
  if (typeof fn !== 'function') throw new Error(`${specifier} does not export ${name}()`);
  return fn as T;
}

function isCommand(s: string): s is Command {
  return (COMMANDS as readonly string[]).includes(s);
}

/** Runs the CLI and resolves to the exit status. It never calls process.exit. */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const [first, ...rest] = argv;

  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    if (first === 'help' && rest[0] === 'config') {
      stdout.write(configHelp());
      return EXIT_OK;
    }
    if (first === 'help' && rest.length > 0 && !isCommand(rest[0]!)) {
      stderr.write(`sextant: no help for that topic; try "sextant help" or "sextant help config"\n`);
      return EXIT_USAGE;
    }
    stdout.write(USAGE);
    return EXIT_OK;
  }
  if (first === 'version' || first === '--version') {
    if (rest.length > 0) return usageError(stderr, new UsageError('version takes no arguments'));
    stdout.write(`sextant ${packageVersion()} (node ${process.version})\n`);
    return EXIT_OK;
  }
  if (!isCommand(first)) {
    // The command itself is not echoed unless it looks like a flag: it may be a pasted token.
    const shown = /^--?[a-z][a-z0-9-]{0,40}$/.test(first) ? `unknown flag ${first}` : 'unknown command';
    return usageError(stderr, new UsageError(shown));
  }

  try {
    const wantsHelp = rest.includes('--help') || rest.includes('-h');
    if (wantsHelp) {
      stdout.write(USAGE);
      return EXIT_OK;
    }
    switch (first) {
      case 'check': {
        const loaded = loadConfig({ argv: rest, env, cwd });
        // Loaded here: the YAML writer is only needed to print the configuration.
        const { renderCheckYaml } = await import('../config/render.js');
        stdout.write(renderCheckYaml(loaded));
        if (loaded.config.endpoint === undefined && !loaded.local) {
          stdout.write('# note: endpoint is not set; "sextant agent" needs it unless run with --local\n');
        }
        return EXIT_OK;
      }
      case 'agent': {
        const loaded = loadConfig({ argv: rest, env, cwd, switches: ['--once'] });
        if (loaded.config.endpoint === undefined && !loaded.local) {
          throw new ConfigError('endpoint', 'not set; set SEXTANT_ENDPOINT, --endpoint or endpoint: in the config file (or run with --local)');
        }
        io.beforeAgent?.(loaded);
        const runAgent = await importRunner<RunAgent>(AGENT_MODULE, 'runAgent');
        return await runAgent(loaded.config, { once: loaded.switches.has('--once'), local: loaded.local, loaded });
      }
      case 'top': {
        // Loaded only here; reads an agent's /metrics, no config file.
        const { runTopCommand } = await import('./top.js');
        return await runTopCommand(rest, env, {
          stdout,
          stderr,
          stdin: process.stdin,
        });
      }
      case 'gateway': {
        const loaded = loadConfig({ argv: rest, env, cwd, allowLocal: false });
        io.beforeGateway?.(loaded);
        const runGateway = await importRunner<RunGateway>(GATEWAY_MODULE, 'runGateway');
        return await runGateway(loaded.config, { loaded });
      }
      case 'webhook': {
        const loaded = loadConfig({ argv: rest, env, cwd, allowLocal: false });
        const runWebhook = await importRunner<RunWebhook>(WEBHOOK_MODULE, 'runWebhook');
        return await runWebhook(loaded.config, { loaded });
      }
      default:
        return usageError(stderr, new UsageError(`${first} takes no arguments`));
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      stderr.write(`sextant: config error: ${oneLine(err.message)}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) return usageError(stderr, err);
    const message = err instanceof Error ? err.message : String(err);
    stderr.write(`sextant: ${first} failed: ${oneLine(message)}\n`);
    return EXIT_FAILURE;
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

function usageError(stderr: { write(s: string): unknown }, err: UsageError): number {
  stderr.write(`sextant: ${oneLine(err.message)}\n\n${USAGE}`);
  return EXIT_USAGE;
}
