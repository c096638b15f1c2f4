import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS } from '../../../src/config/schema.js';

/**
 * Runs the real `sextant` command as a child process. Only the CLI, the config, errors.ts and version.ts are
 * compiled (into a temporary package with its own dist/), so other areas' unfinished
 * files cannot break this test, and `check`/`version` are shown to work without the agent code.
 */
const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = mkdtempSync(join(tmpdir(), 'sextant-cli-'));
const work = join(pkg, 'work');
const TOKEN = 'dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUV';
const TOKEN_PART = TOKEN.slice(7, 31);

beforeAll(() => {
  writeFileSync(
    join(pkg, 'tsconfig.json'),
    JSON.stringify({
      extends: join(repo, 'tsconfig.json'),
      compilerOptions: { outDir: join(pkg, 'dist'), rootDir: join(repo, 'src'), sourceMap: false, typeRoots: [join(repo, 'node_modules/@types')] },
      include: [join(repo, 'src/cli/**/*.ts'), join(repo, 'src/config/**/*.ts'), join(repo, 'src/errors.ts'), join(repo, 'src/version.ts')],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(pkg, 'tsconfig.json')], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  cpSync(join(repo, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'));
  // Stand-ins for the agent and gateway entry points: they report what the CLI handed them.
  // (dist/gateway may exist already: the schema composes the gateway's cluster keys.)
  mkdirSync(join(pkg, 'dist/agent'), { recursive: true });
  mkdirSync(join(pkg, 'dist/gateway'), { recursive: true });
  writeFileSync(
    join(pkg, 'dist/agent/run.js'),
    `export async function runAgent(config, o) { process.stdout.write(JSON.stringify({ interval: config.interval, once: o.once, local: o.local, stateDir: config.stateDir, token: String(config.apiToken) })); return 7; }\n`,
  );
  writeFileSync(join(pkg, 'dist/gateway/run.js'), `export async function runGateway(config) { process.stdout.write(JSON.stringify({ listen: config.gateway.listen })); return 0; }\n`);
  mkdirSync(work);
}, 120_000);

afterAll(() => rmSync(pkg, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sextant(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(pkg, 'dist/cli/sextant.js'), ...args], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      timeout: 15_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let n = 0;
function file(content: string | Buffer): string {
  const p = join(work, `f${++n}.yaml`);
  writeFileSync(p, content);
  return p;
}

/** A config error: status 2, nothing on stdout, exactly one line on stderr, no token. */
function expectConfigError(r: Result, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^sextant: config error: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toContain(TOKEN_PART);
}

describe('sextant version and help', () => {
  it('version prints the package and node versions', async () => {
    const r = await sextant(['version']);
    expect(r).toEqual({ code: 0, stdout: `sextant 0.1.0 (node ${process.version})\n`, stderr: '' });
  });

  it.each([[['help']], [['--help']], [['-h']], [[]], [['check', '--help']], [['agent', '-h']]])('%j prints usage on stdout, exit 0', async (args) => {
    const r = await sextant(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: sextant <command>/);
    expect(r.stderr).toBe('');
  });

  it('help config lists every setting with its env name and flag', async () => {
    const r = await sextant(['help', 'config']);
    expect(r.code).toBe(0);
    for (const k of KEYS) {
      expect(r.stdout).toContain(k.env);
      if (k.flag !== undefined) expect(r.stdout).toContain(k.flag);
    }
  });

  it('an unknown command: usage on stderr, exit 2, and the word is not echoed', async () => {
    const r = await sextant([TOKEN]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sextant: unknown command\n\nUsage:/);
    expect(r.stderr).not.toContain(TOKEN_PART);
  });

  it('an unknown flag: usage on stderr with a suggestion, exit 2', async () => {
    const r = await sextant(['check', '--intervall', '5s']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sextant: unknown flag --intervall \(did you mean --interval\?\)\n\nUsage:/);
    expect((await sextant(['--verbose'])).stderr).toMatch(/^sextant: unknown flag --verbose/);
    expect((await sextant(['gateway', '--local'])).code).toBe(2);
    expect((await sextant(['check', '--once'])).code).toBe(2);
    expect((await sextant(['version', 'extra'])).code).toBe(2);
  });
});

describe('sextant check', () => {
  it('prints the effective config as YAML with the source of each key, secrets redacted', async () => {
    const tokenFile = file(`${TOKEN}\n`);
    const cfg = file('interval: 20s\nendpoint: https://abc.live.dynatrace.com/api/v2/otlp\n');
    const r = await sextant(['check', '--config', cfg, '--log-level', 'debug'], {
      SEXTANT_API_TOKEN_FILE: tokenFile,
      SEXTANT_GATEWAY_TOKENS: TOKEN,
      SEXTANT_GATEWAY_UPSTREAM_TOKEN: TOKEN,
      SEXTANT_COMPRESSION: 'none',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain(TOKEN_PART);
    expect(r.stdout).toContain(`interval: 20s  # file ${cfg}\n`);
    expect(r.stdout).toContain('compression: none  # env SEXTANT_COMPRESSION\n');
    expect(r.stdout).toContain('logLevel: debug  # flag --log-level\n');
    expect(r.stdout).toContain(`apiToken: "[redacted]"  # file ${tokenFile}\n`);
    expect(r.stdout).toContain('  upstreamToken: "[redacted]"  # env SEXTANT_GATEWAY_UPSTREAM_TOKEN\n');
    expect(r.stdout).toContain('stateDir: /var/lib/sextant  # default\n');
    const parsed = parseYaml(r.stdout) as Record<string, Record<string, unknown>>;
    expect(parsed.export!.maxInFlight).toBe(2);
    expect(parsed.gateway!.listen).toBe('127.0.0.1:14318');
  });

  it('--local changes the state dir; SEXTANT_CONFIG names the file', async () => {
    const cfg = file('summaryInterval: 0\n');
    const r = await sextant(['check', '--local'], { SEXTANT_CONFIG: cfg });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`stateDir: ${join(work, 'data/state')}  # default\n`);
    expect(r.stdout).toContain(`summaryInterval: 0s  # file ${cfg}\n`);
  });

  it('flags win over env, env over file', async () => {
    const cfg = file('interval: 20s\n');
    const r = await sextant(['check', '--config', cfg, '--interval=2s'], { SEXTANT_INTERVAL: '30s' });
    expect(r.stdout).toContain('interval: 2s  # flag --interval\n');
    const r2 = await sextant(['check', '--config', cfg], { SEXTANT_INTERVAL: '30s' });
    expect(r2.stdout).toContain('interval: 30s  # env SEXTANT_INTERVAL\n');
  });
});

describe('bad config: exit 2, one line naming the key, never a token', () => {
  it('unknown YAML key, with suggestion', async () => {
    const cfg = file('gateway:\n  data_dir: /x\n');
    expectConfigError(await sextant(['check', '--config', cfg]), /gateway\.data_dir: unknown key in .* line 2; did you mean gateway\.dataDir\?/);
  });

  it('unknown SEXTANT_ variable, with suggestion', async () => {
    expectConfigError(await sextant(['check'], { SEXTANT_API_TOKN: TOKEN }), /SEXTANT_API_TOKN: unknown environment variable; did you mean SEXTANT_API_TOKEN\?/);
  });

  it('wrong type and out of range', async () => {
    expectConfigError(await sextant(['check'], { SEXTANT_INTERVAL: '10x' }), /^sextant: config error: interval: not a duration; .*\(env SEXTANT_INTERVAL\)$/m);
    expectConfigError(await sextant(['check', '--export-max-in-flight', '100']), /export\.maxInFlight: must be at most 64 \(flag --export-max-in-flight; env SEXTANT_EXPORT_MAX_IN_FLIGHT\)/);
    expectConfigError(await sextant(['check'], { SEXTANT_BATCH_METRICS_MAX_ITEMS: '20000' }), /15,000 data points/);
  });

  it('a token in the wrong place', async () => {
    expectConfigError(await sextant(['check'], { SEXTANT_ENDPOINT: TOKEN }), /endpoint: not a valid URL/);
    expectConfigError(await sextant(['check'], { SEXTANT_INTERVAL: TOKEN }), /interval: not a duration/);
    expectConfigError(await sextant(['check', '--config', file(`listen: ${TOKEN}\n`)]), /listen: not a listen address/);
    expectConfigError(await sextant(['check'], { SEXTANT_API_TOKEN_FILE: TOKEN }), /apiTokenFile: cannot read the file: no such file/);
    expectConfigError(await sextant(['check', `--api-token=${TOKEN}`]), /apiToken: cannot be given as a flag/);
    expectConfigError(await sextant(['check'], { SEXTANT_ENDPOINT: `https://user:${TOKEN}@host/` }), /endpoint: must not contain credentials/);
  });

  it('unreadable, empty token files; both token and file', async () => {
    expectConfigError(await sextant(['check'], { SEXTANT_API_TOKEN_FILE: join(work, 'missing') }), /apiTokenFile: cannot read the file: no such file \(env SEXTANT_API_TOKEN_FILE\)/);
    expectConfigError(await sextant(['check'], { SEXTANT_API_TOKEN_FILE: file('') }), /apiTokenFile: the file is empty/);
    expectConfigError(await sextant(['check'], { SEXTANT_API_TOKEN_FILE: file(TOKEN), SEXTANT_API_TOKEN: TOKEN }), /SEXTANT_API_TOKEN\b.*SEXTANT_API_TOKEN_FILE/);
  });

  it('malformed URL', async () => {
    expectConfigError(await sextant(['check', '--endpoint', 'ftp://x']), /endpoint: must be an http:\/\/ or https:\/\/ URL/);
    expectConfigError(await sextant(['check'], { SEXTANT_GATEWAY_UPSTREAM: 'http://' }), /gateway\.upstream: not a valid URL/);
  });

  it('YAML that does not parse, invalid UTF-8, a binary file, a 10 MB file, a missing file', async () => {
    expectConfigError(await sextant(['check', '--config', file('a: "unclosed\n')]), /config: .*: line \d+, column \d+: not valid YAML/);
    expectConfigError(await sextant(['check', '--config', file(Buffer.from([0x69, 0x3a, 0x20, 0xff, 0xfe, 0x0a]))]), /line 1: not valid UTF-8 text/);
    expectConfigError(await sextant(['check', '--config', file(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 1]))]), /binary file/);
    expectConfigError(await sextant(['check', '--config', file(Buffer.alloc(10 * 1024 * 1024, 0x61))]), /a config file is at most 1048576 bytes/);
    expectConfigError(await sextant(['check', '--config', 'nope.yaml']), /config: .*nope\.yaml: cannot read the config file: no such file/);
  });

  it('agent without an endpoint (and without --local)', async () => {
    expectConfigError(await sextant(['agent']), /^sextant: config error: endpoint: not set; set SEXTANT_ENDPOINT/);
  });
});

describe('dispatch', () => {
  it('agent hands the loaded config and switches to runAgent and exits with its status', async () => {
    const r = await sextant(['agent', '--once', '--local', '--interval', '2s'], { SEXTANT_API_TOKEN: TOKEN });
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toEqual({ interval: 2000, once: true, local: true, stateDir: join(work, 'data/state'), token: '[redacted]' });
  });

  it('gateway hands the loaded config to runGateway', async () => {
    const r = await sextant(['gateway', '--gateway-listen', '127.0.0.1:0']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ listen: { host: '127.0.0.1', port: 0 } });
  });
});
