/**
 * Every ConfigError names a key the user can set, exactly as the schema spells it: statically,
 * for every construction in src/ (test/helpers/config-error-keys.ts follows each key argument to
 * its literals), and behaviourally for a sample of keys, through the loader and the `sextant`
 * command, and through the components that check an option they were given.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { loadConfig } from '../../../src/config/load.js';
import { KEYS_BY_PATH, SECTIONS } from '../../../src/config/schema.js';
import { closest } from '../../../src/config-kinds/names.js';
import { createKubernetesMetadata } from '../../../src/enrich/k8s/kubernetes-metadata.js';
import { ConfigError } from '../../../src/errors.js';
import { HttpTransport } from '../../../src/export/http-transport.js';
import { RetryingTransport } from '../../../src/export/retrying-transport.js';
import type { Transport } from '../../../src/export/types.js';
import { DEFAULT_GATEWAY_CONFIG, parseListen, validateGatewayConfig } from '../../../src/gateway/config.js';
import { createUpstreamTransport } from '../../../src/gateway/upstream-transport.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG, type PipelineConfig } from '../../../src/pipeline/pipeline.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';
import { compileHostConfig } from '../../../src/sources/host/config.js';
import { CheckpointStore } from '../../../src/sources/logs/checkpoint-store.js';
import { processSourceConfig } from '../../../src/sources/process/config.js';
import { configErrorKeys, type ConfigErrorKeys } from '../../helpers/config-error-keys.js';
import { filesUnder, REPO_ROOT } from '../../helpers/source-tree.js';

/** Keys that are no schema key but name what the user set, with what each stands for. */
const SPECIAL_KEYS: Readonly<Record<string, string>> = {
  config: 'the config file itself (--config FILE or SEXTANT_CONFIG): unreadable, not UTF-8, not YAML, not a mapping',
};

/**
 * Key expressions the code cannot resolve to literals, each with why what it names is still what
 * the user set. A new one fails the test until it is listed here (or made literal).
 */
const DYNAMIC_KEYS: readonly { file: string; expression: string; why: string }[] = [
  { file: 'src/config/load.ts', expression: 'key.path', why: 'a KeyInfo of the schema (KEYS): the key whose value did not parse or check' },
  { file: 'src/config/load.ts', expression: 'target.path', why: 'the secret key a *File key fills (KEYS_BY_PATH.get(spec.fills)), set both ways' },
  {
    file: 'src/config/load.ts',
    expression: 'printable(name, 80)',
    why: 'an unknown SEXTANT_* variable: there is no key to name, so it names the variable as the user set it, with the closest one suggested',
  },
  { file: 'src/config/flags.ts', expression: 'key.path', why: 'a secret key of the schema (KEYS) given as a flag' },
  { file: 'src/config/yaml-file.ts', expression: 'printable(path)', why: 'a dotted name written in the file, as written; the message shows the nested form' },
  { file: 'src/config/yaml-file.ts', expression: 'path', why: 'a section of the schema (SECTIONS.has(path) is checked just above) given a single value' },
  { file: 'src/config/yaml-file.ts', expression: 'printable(path, 80)', why: 'an unknown key in the file, as written, with the closest schema key suggested' },
];

function isSettable(key: string): boolean {
  return KEYS_BY_PATH.has(key) || SECTIONS.has(key) || Object.hasOwn(SPECIAL_KEYS, key);
}

describe('the key of every ConfigError in src/ (read from the code)', () => {
  let found: ConfigErrorKeys;
  beforeAll(() => {
    found = configErrorKeys();
  }, 60_000);

  it('finds every construction (the reading is not blind)', () => {
    const perFile = new Map<string, number>();
    for (const s of found.sites) perFile.set(s.file, (perFile.get(s.file) ?? 0) + 1);
    const written = new Map<string, number>();
    for (const file of filesUnder('src').filter((f) => f.endsWith('.ts'))) {
      const n = readFileSync(path.join(REPO_ROOT, file), 'utf8').match(/\bnew ConfigError\(/g)?.length ?? 0;
      if (n > 0) written.set(file, n);
    }
    // Subclasses construct through super(), which the text search does not count.
    for (const [file, n] of written) expect(perFile.get(file), file).toBeGreaterThanOrEqual(n);
    expect(found.sites.length).toBeGreaterThan(30);
    // Literals from each kind of site: direct, a helper's parameter, a template over a typed list.
    const keys = new Set(found.literals.map((l) => l.key));
    for (const k of ['tls.caFile', 'logs.checkpointInterval', 'gateway.maxRequestBytes', 'batch.events.linger', 'process.maxGroups', 'gateway.grpcListen']) expect(keys).toContain(k);
  });

  it('every literal key is a schema key, a section or a documented special', () => {
    const wrong = found.literals
      .filter((l) => !isSettable(l.key))
      .map((l) => {
        const near = closest(l.key, KEYS_BY_PATH.keys());
        return `${l.file}:${l.line} ${l.key}${near !== undefined ? ` (the schema has ${near})` : ''}`;
      });
    expect(wrong).toEqual([]);
  });

  it('every key expression that is not literal is allowed with a reason', () => {
    const listed = (file: string, expression: string): boolean => DYNAMIC_KEYS.some((d) => d.file === file && d.expression === expression);
    expect(found.dynamic.filter((d) => !listed(d.file, d.expression)).map((d) => `${d.file}:${d.line} ${d.expression}`)).toEqual([]);
    // An entry the code no longer needs goes, so the list stays an account of what is there.
    const stale = DYNAMIC_KEYS.filter((a) => !found.dynamic.some((d) => d.file === a.file && d.expression === a.expression));
    expect(stale).toEqual([]);
    for (const d of DYNAMIC_KEYS) expect(d.why.length, d.expression).toBeGreaterThan(20);
  });
});

describe('a bad value names the key the user set (behaviour)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sextant-config-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const yaml = (name: string, text: string): string => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  /** Through the loader, one way of setting each: environment, flag, file. */
  const LOADER_CASES: readonly { key: string; argv?: string[]; env?: Record<string, string> }[] = [
    { key: 'logs.checkpointInterval', env: { SEXTANT_LOGS_CHECKPOINT_INTERVAL: '10ms' } },
    { key: 'export.retryMaxBackoff', env: { SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '0' } },
    { key: 'tls.caFile', env: { SEXTANT_TLS_CA_FILE: path.join(dir, 'absent-ca.pem') } },
    { key: 'gateway.grpcListen', env: { SEXTANT_GATEWAY_GRPC_LISTEN: 'nowhere' } },
    { key: 'gateway.upstream', argv: ['--gateway-upstream', 'ftp://x'] },
    { key: 'host.disk.include', argv: ['--host-disk-include', '(unclosed'] },
    { key: 'apiToken', argv: ['--api-token', 'x'] },
    { key: 'process.maxGroups', argv: ['--config', yaml('process.yaml', 'process:\n  maxGroups: 0\n')] },
    { key: 'batch.logs.linger', argv: ['--config', yaml('batch.yaml', 'batch:\n  logs:\n    linger: 2m\n')] },
    // A section given a single value names the section.
    { key: 'gateway.store', argv: ['--config', yaml('store.yaml', 'gateway:\n  store: 5\n')] },
    { key: 'config', argv: ['--config', path.join(dir, 'absent.yaml')] },
  ];

  it.each(LOADER_CASES)('$key: the loader throws a ConfigError with that key', ({ key, argv = [], env = {} }) => {
    expect(isSettable(key)).toBe(true);
    let error: unknown;
    try {
      loadConfig({ argv, env, cwd: dir });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
  });

  it.each(LOADER_CASES)('$key: sextant agent exits 2 with one line naming it', async ({ key, argv = [], env = {} }) => {
    let out = '';
    let err = '';
    const code = await main(['agent', ...argv], {
      // Should a value pass the loader, mode application stops the agent before it starts anything
      // (exit 2 naming mode), so the test fails on the key instead of running an agent in here.
      env: { SEXTANT_ENDPOINT: 'http://127.0.0.1:9', SEXTANT_MODE: 'application', ...env },
      cwd: dir,
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
    });
    expect(code, err).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(new RegExp(`^sextant: config error: ${key.replaceAll('.', '\\.')}: [^\\n]+\\n$`));
  });

  const logger = silentLogger();
  const inner: Transport = { send: () => Promise.resolve({ kind: 'success' }), close: () => Promise.resolve() } as unknown as Transport;
  const pipelineDeps = () => ({
    transport: inner,
    codecs: { metrics: {}, logs: {}, events: {} } as never,
    registry: new Registry(),
    logger,
    exportTimeoutMs: 1000,
  });
  const pipeline = (patch: (c: any) => void) => {
    const c = structuredClone(DEFAULT_PIPELINE_CONFIG) as PipelineConfig;
    patch(c);
    return () => createPipeline(c, pipelineDeps());
  };

  /** Components checking an option they were given name the key that sets it, not the option. */
  const COMPONENT_CASES: readonly { key: string; what: string; make: () => unknown }[] = [
    {
      key: 'tls.caFile',
      what: 'the export transport, an unreadable CA file',
      make: () => new HttpTransport({ endpoint: 'http://127.0.0.1:9', headers: {}, compression: 'none', caFile: path.join(dir, 'gone.pem'), userAgent: 't', logger }),
    },
    { key: 'gateway.upstream', what: "the gateway's upstream transport, a bad URL", make: () => createUpstreamTransport('ftp://x', undefined, logger) },
    {
      key: 'export.retryMaxBackoff',
      what: 'the retry policy, a longest delay under the first',
      make: () => new RetryingTransport(inner, { initialBackoffMs: 1000, maxBackoffMs: 10, multiplier: 2, maxElapsedMs: 0 }),
    },
    { key: 'export.maxInFlight', what: 'the pipeline, requests in flight', make: pipeline((c) => (c.maxInFlight = 0)) },
    { key: 'batch.events.linger', what: 'the pipeline, a batch linger', make: pipeline((c) => (c.batches.events.lingerMs = -1)) },
    { key: 'pipeline.logs.maxItems', what: 'the pipeline, a queue bound', make: pipeline((c) => (c.queues.logs.maxItems = 0)) },
    { key: 'shutdownTimeout', what: "the gateway's close deadline", make: () => validateGatewayConfig({ ...DEFAULT_GATEWAY_CONFIG, shutdownTimeoutMs: 0 }) },
    { key: 'gateway.tokens', what: 'a gateway token with a space', make: () => validateGatewayConfig({ ...DEFAULT_GATEWAY_CONFIG, tokens: [{ reveal: () => 'a b' }] }) },
    { key: 'gateway.grpcListen', what: "the gateway's gRPC listen address", make: () => parseListen('nowhere', 'gateway.grpcListen') },
    { key: 'logs.checkpointInterval', what: 'the log checkpoint store', make: () => new CheckpointStore({ dir, logger, intervalMs: 0 }) },
    { key: 'host.filesystem.statfsTimeout', what: 'the host source', make: () => compileHostConfig({ hostRoot: '/', filesystem: { statfsTimeoutMs: 0 } }) },
    { key: 'process.usersRefreshCycles', what: 'the process source', make: () => processSourceConfig({ usersRefreshCycles: 0 }) },
    {
      key: 'kubernetes.enabled',
      what: 'Kubernetes metadata switched on outside a cluster',
      make: () =>
        createKubernetesMetadata(loadConfig({ env: { SEXTANT_KUBERNETES_ENABLED: 'true' }, cwd: dir }).config.kubernetes, {
          logger,
          registry: new Registry(),
          version: 'test',
          nodeName: undefined,
          env: {},
        }),
    },
  ];

  it.each(COMPONENT_CASES)('$key: $what', ({ key, make }) => {
    expect(isSettable(key)).toBe(true);
    let error: unknown;
    try {
      make();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as ConfigError).message.startsWith(`${key}: `)).toBe(true);
  });
});
