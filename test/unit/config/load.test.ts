import { chmodSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { UsageError } from '../../../src/config/flags.js';
import { loadConfig, type LoadOptions } from '../../../src/config/load.js';
import { redactedConfig, renderCheckYaml } from '../../../src/config/render.js';
import { KEYS } from '../../../src/config/schema.js';
import { Secret } from '../../../src/config-kinds/secret.js';

const dir = mkdtempSync(join(tmpdir(), 'sextant-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: string | Buffer, name = `c${++n}.yaml`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const TOKEN = 'dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUV';
const TOKEN_PART = TOKEN.slice(7, 31);

function load(o: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: dir, argv: [], ...o });
}

function configError(o: LoadOptions): ConfigError {
  let caught: unknown;
  try {
    load(o);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  const e = caught as ConfigError;
  expect(e.code).toBe('SEXTANT_ERR_CONFIG');
  expect(e.message).not.toMatch(/[\r\n]/);
  expect(e.message).not.toContain(TOKEN_PART);
  return e;
}

describe('defaults', () => {
  it('has the documented defaults', () => {
    const { config, sources } = load();
    expect(config.endpoint).toBeUndefined();
    expect(config.apiToken).toBeUndefined();
    expect(config.interval).toBe(10_000);
    expect(config.hostRoot).toBe('/');
    expect(config.stateDir).toBe('/var/lib/sextant');
    expect(config.temporality).toBe('delta');
    expect(config.compression).toBe('gzip');
    expect(config.logLevel).toBe('info');
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(config.tls).toEqual({ caFile: undefined, insecureSkipVerify: false });
    expect(config.export).toEqual({ timeout: 10_000, maxInFlight: 2, retryInitialBackoff: 1000, retryMaxBackoff: 30_000, retryMaxElapsed: 0 });
    expect(config.shutdownTimeout).toBe(10_000);
    expect(config.summaryInterval).toBe(5000);
    expect(config.native).toBe(true);
    expect(config.pipeline).toEqual({
      metrics: { maxItems: 50_000, maxBytes: 16 * 2 ** 20 },
      logs: { maxItems: 4096, maxBytes: 4 * 2 ** 20 },
      events: { maxItems: 5_000, maxBytes: 2 * 2 ** 20 },
      traces: { maxItems: 4_096, maxBytes: 16 * 2 ** 20 },
    });
    expect(config.batch).toEqual({
      metrics: { maxItems: 10_000, maxBytes: 3 * 2 ** 20, linger: 1000 },
      logs: { maxItems: 2_000, maxBytes: 1536 * 1024, linger: 1000 },
      events: { maxItems: 500, maxBytes: 2 ** 20, linger: 200 },
      traces: { maxItems: 256, maxBytes: 1536 * 1024, linger: 500 },
    });
    expect(config.receiver).toEqual({
      enabled: false,
      httpListen: { host: '0.0.0.0', port: 4318 },
      grpcListen: { host: '0.0.0.0', port: 4317 },
      socket: undefined,
      allowNetworks: [],
      maxRequestBytes: 4 * 2 ** 20,
      maxDecompressedBytes: 8 * 2 ** 20,
      retryAfter: 2000,
    });
    expect(config.webhook.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(config.gateway.listen).toEqual({ host: '127.0.0.1', port: 14318 });
    expect(config.gateway.tokens).toEqual([]);
    expect(config.gateway.dataDir).toBe(join(dir, 'data'));
    expect(config.gateway.upstream).toBeUndefined();
    expect(config.gateway.maxRequestBytes).toBe(8 * 2 ** 20);
    expect(config.gateway.maxDecompressedBytes).toBe(32 * 2 ** 20);
    expect(config.gateway.store).toEqual({ maxFileBytes: 64 * 2 ** 20, maxTotalBytes: 2 ** 30 });
    expect(config.gateway.forward).toEqual({ maxQueueBytes: 64 * 2 ** 20, maxQueueItems: 1024 });
    expect(config.mode).toBe('fullstack');
    expect([config.host.enabled, config.process.enabled, config.containers.enabled, config.logs.enabled]).toEqual([true, true, true, true]);
    const switches = ['host.enabled', 'process.enabled', 'containers.enabled', 'logs.enabled', 'receiver.enabled'];
    expect(Object.entries(sources).every(([k, s]) => s === (switches.includes(k) ? 'mode' : 'default'))).toBe(true);
    expect(Object.keys(sources).sort()).toEqual(KEYS.map((k) => k.path).sort());
  });

  it('--local moves the state dir under ./data', () => {
    expect(load({ argv: ['--local'] }).config.stateDir).toBe(join(dir, 'data', 'state'));
    expect(load({ local: true }).config.stateDir).toBe(join(dir, 'data', 'state'));
    expect(load({ argv: ['--local'] }).local).toBe(true);
  });

  it('is frozen', () => {
    const { config } = load();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.gateway.store)).toBe(true);
  });
});

describe('precedence: defaults < file < env < flags', () => {
  const yaml = file('interval: 20s\nlogLevel: debug\ncompression: none\ntemporality: cumulative\ngateway:\n  dataDir: /from/file\n');
  it('each layer overrides the one below, key by key', () => {
    const { config, sources } = load({
      argv: ['--config', yaml, '--log-level', 'error', '--gateway-data-dir=/from/flag'],
      env: { SEXTANT_LOG_LEVEL: 'warn', SEXTANT_COMPRESSION: 'gzip', SEXTANT_GATEWAY_DATA_DIR: '/from/env' },
    });
    expect(config.interval).toBe(20_000);
    expect(sources.interval).toBe('file');
    expect(config.temporality).toBe('cumulative');
    expect(config.compression).toBe('gzip');
    expect(sources.compression).toBe('env');
    expect(config.logLevel).toBe('error');
    expect(sources.logLevel).toBe('flag');
    expect(config.gateway.dataDir).toBe('/from/flag');
    expect(sources['gateway.dataDir']).toBe('flag');
    expect(config.listen.port).toBe(9464);
    expect(sources.listen).toBe('default');
  });

  it('finds the file through SEXTANT_CONFIG; --config wins over it', () => {
    const other = file('interval: 30s\n');
    expect(load({ env: { SEXTANT_CONFIG: yaml } }).config.interval).toBe(20_000);
    expect(load({ env: { SEXTANT_CONFIG: yaml }, argv: ['--config', other] }).config.interval).toBe(30_000);
    expect(load({ env: { SEXTANT_CONFIG: yaml } }).file).toBe(yaml);
  });

  it('resolves a relative config path against cwd', () => {
    file('interval: 7s\n', 'relative.yaml');
    expect(load({ argv: ['--config=relative.yaml'] }).config.interval).toBe(7000);
  });

  it('treats an empty env var as unset', () => {
    const { config, sources } = load({ env: { SEXTANT_INTERVAL: '', SEXTANT_ENDPOINT: '' } });
    expect(config.interval).toBe(10_000);
    expect(sources.interval).toBe('default');
    expect(config.endpoint).toBeUndefined();
  });

  it('boolean flags: --x, --no-x, --x=false', () => {
    expect(load({ argv: ['--tls-insecure-skip-verify'] }).config.tls.insecureSkipVerify).toBe(true);
    expect(load({ argv: ['--no-native'] }).config.native).toBe(false);
    expect(load({ argv: ['--native=false'] }).config.native).toBe(false);
    expect(load({ env: { SEXTANT_NATIVE: '0' } }).config.native).toBe(false);
    expect(load({ env: { SEXTANT_NATIVE: '0' }, argv: ['--native'] }).config.native).toBe(true);
  });

  it('takes YAML lists and maps, and text lists', () => {
    const f = file('headers:\n  X-Scope-OrgID: tenant1\ngateway:\n  tokens: [a1, b2]\n');
    const { config } = load({ argv: ['--config', f] });
    expect(config.headers).toEqual({ 'x-scope-orgid': 'tenant1' });
    expect(config.gateway.tokens.map((t) => t.reveal())).toEqual(['a1', 'b2']);
    expect(load({ env: { SEXTANT_GATEWAY_TOKENS: 'x1,y2' } }).config.gateway.tokens).toHaveLength(2);
  });

  it('leaves defaults for keys and sections set to null', () => {
    const f = file('interval:\ngateway:\ntls: ~\n');
    const { config, sources } = load({ argv: ['--config', f] });
    expect(config.interval).toBe(10_000);
    expect(sources.interval).toBe('default');
  });

  it('accepts an empty file and comments only', () => {
    expect(load({ argv: ['--config', file('')] }).config.interval).toBe(10_000);
    expect(load({ argv: ['--config', file('# nothing\n')] }).config.interval).toBe(10_000);
  });
});

describe('modes', () => {
  const switches = (c: ReturnType<typeof load>['config']) => [c.host.enabled, c.process.enabled, c.containers.enabled, c.logs.enabled];

  it.each([
    ['fullstack', [true, true, true, true], false],
    ['host', [true, true, false, false], false],
    ['application', [false, false, false, false], true],
    ['cloudnative', [true, true, true, true], true],
  ] as const)('%s presets host, process, containers, logs = %j, receiver = %j', (mode, expected, receiver) => {
    const { config, sources } = load({ env: { SEXTANT_MODE: mode } });
    expect(config.mode).toBe(mode);
    expect(switches(config)).toEqual(expected);
    expect(config.receiver.enabled).toBe(receiver);
    expect(sources['containers.enabled']).toBe('mode');
    expect(sources['receiver.enabled']).toBe('mode');
  });

  it('the receiver switch set explicitly wins over the mode, and its budget must hold its largest request', () => {
    expect(load({ env: { SEXTANT_MODE: 'fullstack', SEXTANT_RECEIVER_ENABLED: 'true' } }).config.receiver.enabled).toBe(true);
    expect(load({ env: { SEXTANT_MODE: 'application', SEXTANT_RECEIVER_ENABLED: 'false' } }).config.receiver.enabled).toBe(false);
    expect(() => load({ env: { SEXTANT_MODE: 'application', SEXTANT_PIPELINE_TRACES_MAX_BYTES: '4MiB' } })).toThrow(/receiver.maxDecompressedBytes: is larger than pipeline.traces.maxBytes/);
    expect(() => load({ env: { SEXTANT_RECEIVER_ALLOW_NETWORKS: '10.0.0.0/8,300.1.1.1' } })).toThrow(/receiver.allowNetworks: item 2: not an IP network/);
    expect(load({ env: { SEXTANT_RECEIVER_ALLOW_NETWORKS: '10.0.0.0/8, fd00::/8 ,192.168.1.7' } }).config.receiver.allowNetworks).toEqual(['10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
  });

  it('an explicit switch wins over the preset, from any layer', () => {
    const cfg = file('mode: host\nlogs:\n  enabled: true\n');
    const { config, sources } = load({ argv: ['--config', cfg, '--no-process-enabled'], env: { SEXTANT_CONTAINERS_ENABLED: 'true' } });
    expect(switches(config)).toEqual([true, false, true, true]);
    expect(sources['logs.enabled']).toBe('file');
    expect(sources['containers.enabled']).toBe('env');
    expect(sources['process.enabled']).toBe('flag');
    expect(sources['host.enabled']).toBe('mode');
  });

  it('check shows which switches came from the mode', () => {
    const text = renderCheckYaml(load({ env: { SEXTANT_MODE: 'host', SEXTANT_LOGS_ENABLED: 'true' } }));
    expect(text).toMatch(/^mode: host {2}# env SEXTANT_MODE$/m);
    expect(text).toMatch(/^ {2}enabled: false {2}# mode host$/m);
    expect(text).toMatch(/^ {2}enabled: true {2}# env SEXTANT_LOGS_ENABLED$/m);
  });

  it('an unknown mode exits 2 naming the key and the choices', () => {
    expect(() => load({ env: { SEXTANT_MODE: 'classicFullStack' } })).toThrow(ConfigError);
    expect(() => load({ env: { SEXTANT_MODE: 'classicFullStack' } })).toThrow(/mode: .*fullstack.*host.*application.*cloudnative/);
  });
});

describe('secrets', () => {
  it('reads the API token from the env', () => {
    const { config, sources } = load({ env: { SEXTANT_API_TOKEN: TOKEN } });
    expect(config.apiToken).toBeInstanceOf(Secret);
    expect(config.apiToken!.reveal()).toBe(TOKEN);
    expect(config.apiToken!.source).toBe('env SEXTANT_API_TOKEN');
    expect(sources.apiToken).toBe('env');
  });

  it('reads a token file, trimming the trailing newline', () => {
    const f = file(`${TOKEN}\n`, 'token');
    const { config, sources } = load({ env: { SEXTANT_API_TOKEN_FILE: f } });
    expect(config.apiToken!.reveal()).toBe(TOKEN);
    expect(config.apiToken!.source).toBe(`file ${f}`);
    expect(config.apiTokenFile).toBe(f);
    expect(sources.apiToken).toBe('env');
    const crlf = file(`${TOKEN}\r\n\n`, 'token-crlf');
    expect(load({ argv: ['--api-token-file', crlf] }).config.apiToken!.reveal()).toBe(TOKEN);
  });

  it('refuses an empty, unreadable, missing, oversized or directory token file', () => {
    expect(configError({ env: { SEXTANT_API_TOKEN_FILE: file('', 'empty-token') } }).message).toBe('apiTokenFile: the file is empty (env SEXTANT_API_TOKEN_FILE)');
    expect(configError({ env: { SEXTANT_API_TOKEN_FILE: file('\n', 'nl-token') } }).message).toMatch(/is empty/);
    expect(configError({ env: { SEXTANT_API_TOKEN_FILE: join(dir, 'nope') } }).message).toBe('apiTokenFile: cannot read the file: no such file (env SEXTANT_API_TOKEN_FILE)');
    // The token itself where its file belongs: not echoed, and the message says what went wrong.
    expect(configError({ env: { SEXTANT_API_TOKEN_FILE: TOKEN } }).message).toMatch(/takes a file path \(a token itself goes in SEXTANT_API_TOKEN\)/);
    expect(configError({ env: { SEXTANT_API_TOKEN_FILE: dir } }).message).toMatch(/is a directory/);
    expect(configError({ env: { SEXTANT_API_TOKEN_FILE: file(Buffer.alloc(100_000, 0x41), 'big-token') } }).message).toMatch(/larger than/);
    const spaced = configError({ env: { SEXTANT_API_TOKEN_FILE: file(`${TOKEN} trailing words\n`, 'spaced-token') } });
    expect(spaced.message).toMatch(/spaces/);
    if (process.getuid?.() !== 0) {
      const locked = file(TOKEN, 'locked-token');
      chmodSync(locked, 0o000);
      expect(configError({ env: { SEXTANT_API_TOKEN_FILE: locked } }).message).toMatch(/permission denied/);
    }
  });

  it('refuses both a token and a token file, naming both', () => {
    const e = configError({ env: { SEXTANT_API_TOKEN: TOKEN, SEXTANT_API_TOKEN_FILE: file(TOKEN, 'both') } });
    expect(e.message).toMatch(/SEXTANT_API_TOKEN\b/);
    expect(e.message).toMatch(/SEXTANT_API_TOKEN_FILE/);
    expect(e.key).toBe('apiToken');
  });

  it('has no flag for a secret, and says why without echoing', () => {
    for (const argv of [['--api-token', TOKEN], [`--api-token=${TOKEN}`], ['--gateway-tokens', TOKEN], ['--gateway-upstream-token', TOKEN]]) {
      const e = configError({ argv });
      expect(e.message).toMatch(/cannot be given as a flag/);
    }
  });

  it('reads gateway tokens from a file, one per line or comma-separated', () => {
    const f = file('tok-a\ntok-b, tok-c\n\n', 'gw-tokens');
    const { config } = load({ env: { SEXTANT_GATEWAY_TOKENS_FILE: f } });
    expect(config.gateway.tokens.map((t) => t.reveal())).toEqual(['tok-a', 'tok-b', 'tok-c']);
  });

  it('refuses an Authorization header when apiToken is set', () => {
    const e = configError({ env: { SEXTANT_API_TOKEN: TOKEN, SEXTANT_HEADERS: 'Authorization=Bearer x' } });
    expect(e.key).toBe('headers');
    expect(e.message).toMatch(/Authorization/);
    expect(load({ env: { SEXTANT_HEADERS: 'Authorization=Bearer x' } }).config.headers).toEqual({ authorization: 'Bearer x' });
  });

  it('a secret in the config file is allowed and says where it came from', () => {
    const f = file(`apiToken: ${TOKEN}\n`);
    const { config } = load({ argv: ['--config', f] });
    expect(config.apiToken!.source).toBe(`file ${f}`);
  });

  it('never prints a secret through the config object', () => {
    const { config } = load({ env: { SEXTANT_API_TOKEN: TOKEN, SEXTANT_GATEWAY_TOKENS: `${TOKEN},other-token`, SEXTANT_GATEWAY_UPSTREAM_TOKEN: TOKEN } });
    expect(JSON.stringify(config)).not.toContain(TOKEN_PART);
    expect(inspect(config, { depth: 10 })).not.toContain(TOKEN_PART);
    expect(JSON.stringify(redactedConfig(config))).not.toContain(TOKEN_PART);
  });
});

describe('errors name the key and never echo a value', () => {
  it.each([
    ['SEXTANT_INTERVAL', '10x', /^interval: not a duration; .* \(env SEXTANT_INTERVAL\)$/],
    ['SEXTANT_INTERVAL', '10', /^interval: a bare number has no unit/],
    ['SEXTANT_INTERVAL', '50ms', /^interval: must be at least 100ms/],
    ['SEXTANT_EXPORT_MAX_IN_FLIGHT', '65', /^export\.maxInFlight: must be at most 64 \(env SEXTANT_EXPORT_MAX_IN_FLIGHT\)$/],
    ['SEXTANT_EXPORT_MAX_IN_FLIGHT', 'two', /^export\.maxInFlight: not an integer/],
    ['SEXTANT_ENDPOINT', 'collector:4318', /^endpoint: must be an http/],
    ['SEXTANT_ENDPOINT', 'http//x', /^endpoint: not a valid URL/],
    ['SEXTANT_TEMPORALITY', 'deltas', /^temporality: must be one of delta, cumulative/],
    ['SEXTANT_LISTEN', '9464', /^listen: not a listen address/],
    ['SEXTANT_BATCH_METRICS_MAX_ITEMS', '20000', /15,000 data points/],
    ['SEXTANT_BATCH_METRICS_MAX_BYTES', '5MB', /4 MB \(uncompressed\)/],
    ['SEXTANT_BATCH_LOGS_MAX_BYTES', '3MiB', /^batch\.logs\.maxBytes: must be at most 2000000 bytes: Dynatrace's OTLP logs ingest accepts at most 2 MB/],
    ['SEXTANT_BATCH_EVENTS_MAX_BYTES', '3MiB', /2 MB/],
    ['SEXTANT_TLS_CA_FILE', '/nonexistent/ca.pem', /^tls\.caFile: cannot read the file: no such file \(env SEXTANT_TLS_CA_FILE\)$/],
    ['SEXTANT_TLS_CA_FILE', '/', /^tls\.caFile: not a regular file/],
    ['SEXTANT_NATIVE', 'maybe', /^native: not a boolean/],
  ])('%s=%s', (name, value, pattern) => {
    const e = configError({ env: { [name]: value } });
    expect(e.message).toMatch(pattern);
  });

  it('names the file and line for a bad value in YAML, and the env name', () => {
    const f = file('logLevel: info\ninterval: 10x\n');
    const e = configError({ argv: ['--config', f] });
    expect(e.message).toBe(`interval: not a duration; write a number with a unit, e.g. 500ms, 10s, 2m, 1h or 1m30s (${f} line 2; env SEXTANT_INTERVAL)`);
    expect(e.key).toBe('interval');
  });

  it('names the flag for a bad flag value', () => {
    expect(configError({ argv: ['--interval', '10x'] }).message).toMatch(/^interval: not a duration; .*\(flag --interval; env SEXTANT_INTERVAL\)$/);
  });

  it('checks keys against each other', () => {
    expect(configError({ env: { SEXTANT_EXPORT_RETRY_INITIAL_BACKOFF: '1m', SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '30s' } }).key).toBe('export.retryInitialBackoff');
    expect(configError({ env: { SEXTANT_GATEWAY_MAX_DECOMPRESSED_BYTES: '1MiB' } }).key).toBe('gateway.maxDecompressedBytes');
    expect(configError({ env: { SEXTANT_GATEWAY_STORE_MAX_FILE_BYTES: '2GiB' } }).key).toBe('gateway.store.maxFileBytes');
  });

  it('a token pasted into any key, through env, YAML or flag, never appears in the error', () => {
    const values = [TOKEN, `${TOKEN}\n`, ` ${TOKEN}`, `https://${TOKEN}@host`, `https://user:${TOKEN}@host`, `x=${TOKEN}\u0007`, `${TOKEN}:1`];
    let rejected = 0;
    for (const key of KEYS) {
      for (const v of values) {
        const attempts: LoadOptions[] = [{ env: { [key.env]: v } }, { argv: ['--config', file(`${key.path.split('.').map((p, i) => '  '.repeat(i) + p + ':').join('\n')} ${JSON.stringify(v)}\n`)] }];
        if (key.flag !== undefined) attempts.push({ argv: [key.flag, v] }, { argv: [`${key.flag}=${v}`] });
        else attempts.push({ argv: [`--${key.env.slice(8).toLowerCase().replaceAll('_', '-')}`, v] });
        for (const a of attempts) {
          try {
            load(a);
          } catch (err) {
            rejected++;
            expect(err instanceof ConfigError || err instanceof UsageError).toBe(true);
            expect((err as Error).message, `${key.path} ${JSON.stringify(a)}`).not.toContain(TOKEN_PART);
          }
        }
      }
    }
    expect(rejected).toBeGreaterThan(KEYS.length * 4);
  });
});

describe('unknown names', () => {
  it('an unknown SEXTANT_ env var, with a suggestion', () => {
    const e = configError({ env: { SEXTANT_INTERVL: '10s' } });
    expect(e.message).toMatch(/^SEXTANT_INTERVL: unknown environment variable; did you mean SEXTANT_INTERVAL\?/);
    expect(configError({ env: { SEXTANT_GATEWAY_DATADIR: 'x' } }).message).toMatch(/did you mean SEXTANT_GATEWAY_DATA_DIR\?/);
    expect(configError({ env: { SEXTANT_WHATEVER_THIS_IS: 'x' } }).message).not.toMatch(/did you mean/);
  });

  it('ignores other variables, SEXTANT_CONFIG and SEXTANT_TEST_*', () => {
    expect(() => load({ env: { PATH: '/bin', SEXTANT: 'x', SEXTANT_TEST_DOCKER: '1', HTTPS_PROXY: 'http://p:1' } })).not.toThrow();
  });

  it('an unknown YAML key, with a suggestion and the line', () => {
    const f = file('interval: 10s\ngateway:\n  data_dir: /x\n');
    const e = configError({ argv: ['--config', f] });
    expect(e.message).toBe(`gateway.data_dir: unknown key in ${f} line 3; did you mean gateway.dataDir?`);
    expect(configError({ argv: ['--config', file('apitoken: abc\n')] }).message).toMatch(/did you mean apiToken\?/);
    expect(configError({ argv: ['--config', file('dataDir: x\n')] }).message).toMatch(/did you mean gateway\.dataDir\?/);
    expect(configError({ argv: ['--config', file('zzzzzzzz: 1\n')] }).message).not.toMatch(/did you mean/);
  });

  it('a dotted YAML key, pointing to the nested form', () => {
    expect(configError({ argv: ['--config', file('gateway.dataDir: /x\n')] }).message).toMatch(/write nested keys/);
  });

  it('a scalar where a section belongs', () => {
    expect(configError({ argv: ['--config', file('gateway: yes\n')] }).message).toMatch(/^gateway: .*must be a mapping/);
  });

  it('unknown flags and stray arguments are usage errors, never echoing a stray value', () => {
    expect(() => load({ argv: ['--intervall', '5s'] })).toThrow(/unknown flag --intervall \(did you mean --interval\?\)/);
    expect(() => load({ argv: ['--interval'] })).toThrow(/--interval needs a value/);
    expect(() => load({ argv: ['--interval', '--local'] })).toThrow(UsageError);
    expect(() => load({ argv: ['--local=yes'] })).toThrow(/takes no value/);
    try {
      load({ argv: [TOKEN] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).not.toContain(TOKEN_PART);
    }
    expect(() => load({ argv: ['--local'], allowLocal: false })).toThrow(/unknown flag --local/);
    expect(load({ argv: ['--once'], switches: ['--once'] }).switches.has('--once')).toBe(true);
  });
});

describe('bad config files', () => {
  it('YAML that does not parse: the line, one line of message', () => {
    const f = file('interval: 10s\ngateway:\n  listen: "127.0.0.1:1\n  dataDir: x\n');
    expect(configError({ argv: ['--config', f] }).message).toMatch(new RegExp(`^config: ${f}: line \\d+, column \\d+: not valid YAML: `));
    const dup = file('interval: 10s\ninterval: 20s\n');
    expect(configError({ argv: ['--config', dup] }).message).toMatch(/line 2, column 1: not valid YAML: a key appears twice/);
    const tab = file('gateway:\n\tdataDir: x\n');
    expect(configError({ argv: ['--config', tab] }).message).toMatch(/line 2.*not valid YAML/);
    expect(configError({ argv: ['--config', file('a: 1\n---\nb: 2\n')] }).message).toMatch(/more than one YAML document/);
  });

  it('a YAML error near a token does not quote it', () => {
    const f = file(`apiToken: "${TOKEN}\\q"\n`);
    configError({ argv: ['--config', f] });
    const g = file(`apiToken: ${TOKEN}\n  bad: indent: here\n`);
    configError({ argv: ['--config', g] });
    const h = file(`${TOKEN}: [\n`);
    configError({ argv: ['--config', h] });
  });

  it('not a mapping', () => {
    expect(configError({ argv: ['--config', file('- a\n- b\n')] }).message).toMatch(/must be a YAML mapping/);
    expect(configError({ argv: ['--config', file(`${TOKEN}\n`)] }).message).toMatch(/must be a YAML mapping/);
  });

  it('invalid UTF-8, with the line', () => {
    const f = file(Buffer.concat([Buffer.from('interval: 10s\nlogLevel: '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\n')]));
    expect(configError({ argv: ['--config', f] }).message).toBe(`config: ${f}: line 2: not valid UTF-8 text`);
  });

  it('a binary file', () => {
    const bin = Buffer.alloc(4096);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919 + 13) & 0xff;
    expect(configError({ argv: ['--config', file(bin)] }).message).toMatch(/NUL byte; this looks like a binary file|not valid UTF-8/);
    expect(configError({ argv: ['--config', file(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]))] }).message).toMatch(/binary file/);
  });

  it('random bytes never crash, always ConfigError', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) & 0xff;
    for (let t = 0; t < 50; t++) {
      const b = Buffer.alloc(64 + t * 13);
      for (let i = 0; i < b.length; i++) b[i] = rnd();
      const f = file(b, 'random.yaml');
      try {
        load({ argv: ['--config', f] });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
      }
    }
    // Printable random text is the nastier case for the YAML parser.
    for (let t = 0; t < 50; t++) {
      const chars = ':{}[]-?*&!|>\'"%@`#, \n\tabc0';
      let s = '';
      for (let i = 0; i < 200; i++) s += chars[rnd() % chars.length];
      const f = file(s, 'random-text.yaml');
      try {
        load({ argv: ['--config', f] });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
      }
    }
  });

  it('a 10 MB file is refused without reading it all', () => {
    const f = file(Buffer.alloc(10 * 1024 * 1024, 0x20), 'huge.yaml');
    expect(configError({ argv: ['--config', f] }).message).toMatch(/is 10485760 bytes; a config file is at most 1048576 bytes/);
  });

  it('alias bombs are refused', () => {
    // Each level holds ten aliases of the level below: 10^8 strings if expanded.
    const levels = ['&l0 [x,x,x,x,x,x,x,x,x,x]'];
    for (let i = 1; i < 8; i++) levels.push(`&l${i} [${Array(10).fill(`*l${i - 1}`).join(',')}]`);
    const bomb = file(`gateway:\n  tokens: [${levels.join(', ')}]\n`);
    const started = performance.now();
    expect(configError({ argv: ['--config', bomb] }).message).toBe(`config: ${bomb}: line 2: too many alias expansions`);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('missing file, directory', () => {
    expect(configError({ argv: ['--config', join(dir, 'missing.yaml')] }).message).toMatch(/^config: .*missing\.yaml: cannot read the config file: no such file$/);
    mkdirSync(join(dir, 'adir'), { recursive: true });
    expect(configError({ argv: ['--config', join(dir, 'adir')] }).message).toMatch(/is a directory/);
    expect(configError({ argv: ['--config', '/dev/zero'] }).message).toMatch(/not a regular file/);
  });
});

describe('check output', () => {
  it('is YAML with a source comment per key, secrets redacted, and loads back to the same config', () => {
    const tokenFile = file(`${TOKEN}\n`, 'check-token');
    const f = file('interval: 20s\ngateway:\n  upstream: https://up.example.com/api/v2/otlp/\n');
    const loaded = load({
      argv: ['--config', f, '--log-level', 'debug', '--headers', 'x-a=1'],
      env: { SEXTANT_API_TOKEN_FILE: tokenFile, SEXTANT_GATEWAY_TOKENS: `${TOKEN},t2`, SEXTANT_BATCH_LOGS_LINGER: '250ms' },
    });
    const out = renderCheckYaml(loaded);
    expect(out).not.toContain(TOKEN_PART);
    expect(out).toContain(`interval: 20s  # file ${f}\n`);
    expect(out).toContain('logLevel: debug  # flag --log-level\n');
    expect(out).toContain(`apiToken: "[redacted]"  # file ${tokenFile}\n`);
    expect(out).toContain(`apiTokenFile: ${tokenFile}  # env SEXTANT_API_TOKEN_FILE\n`);
    expect(out).toContain('    linger: 250ms  # env SEXTANT_BATCH_LOGS_LINGER\n');
    expect(out).toContain('  tokens: ["[redacted]","[redacted]"]  # env SEXTANT_GATEWAY_TOKENS\n');
    expect(out).toContain('headers: {"x-a":"[redacted]"}  # flag --headers\n');
    expect(out).toContain('hostRoot: /  # default\n');
    const parsed = parseYaml(out) as Record<string, unknown>;
    expect(parsed.interval).toBe('20s');
    expect((parsed.gateway as Record<string, unknown>).upstream).toBe('https://up.example.com/api/v2/otlp');
    expect(KEYS.every((k) => out.includes(`${k.path.split('.').at(-1)}:`))).toBe(true);

    // Round trip: everything but secrets (and the headers, whose values are hidden) reloads the same.
    const skip = /^\s*(apiToken|apiTokenFile|tokens|headers):/;
    const again = load({ argv: ['--config', file(out.split('\n').filter((l) => !skip.test(l)).join('\n'))] }).config;
    const strip = (c: Record<string, unknown>) => JSON.parse(JSON.stringify(c, (k, v) => (['apiToken', 'apiTokenFile', 'tokens', 'headers'].includes(k) ? undefined : v))) as unknown;
    expect(strip(again as unknown as Record<string, unknown>)).toEqual(strip(loaded.config as unknown as Record<string, unknown>));
  });

  it('lists warnings', () => {
    const loaded = load({ argv: ['--tls-insecure-skip-verify'], env: { SEXTANT_API_TOKEN: TOKEN, SEXTANT_ENDPOINT: 'http://x:4318' } });
    expect(loaded.warnings.map((w) => w.key)).toEqual(['tls.insecureSkipVerify', 'gateway.tokens', 'endpoint']);
    expect(renderCheckYaml(loaded)).toContain('# warning: tls.insecureSkipVerify:');
  });

  it('does not warn of an open gateway with --local, whose in-process gateway gets a per-run token', () => {
    expect(load({ argv: ['--local'] }).warnings.map((w) => w.key)).not.toContain('gateway.tokens');
  });
});
