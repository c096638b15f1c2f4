import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createResource } from '../../../src/model/index.js';
import { agentStatus } from '../../../src/self/agent-status.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';
import { Readiness, startSelfServer } from '../../../src/self/server.js';
import { LogSource } from '../../../src/sources/logs/logs-source.js';
import { readStatus } from '../../../src/top/scrape.js';
import { ArraySink } from '../../helpers/array-sink.js';
import { until } from '../../helpers/wait.js';

describe('/status: checkpoint lag per log file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sextant-status-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists tailed files furthest behind first: size against the acknowledged offset', async () => {
    mkdirSync(path.join(dir, 'app'));
    mkdirSync(path.join(dir, 'state'));
    const big = path.join(dir, 'app', 'big.log');
    const small = path.join(dir, 'app', 'small.log');
    appendFileSync(big, `${'x'.repeat(99)}\n${'y'.repeat(99)}\n`);
    appendFileSync(small, 'z\n');
    const registry = new Registry();
    const logs = new LogSource(
      {
        hostRoot: '/',
        stateDir: path.join(dir, 'state'),
        readFrom: 'beginning',
        maxRecordBytes: 1 << 20,
        rescanIntervalMs: 1000,
        checkpointIntervalMs: 1000,
        globs: [path.join(dir, 'app', '*.log')],
        // Only this test's files, never the machine's own container logs.
        podLogDirs: [path.join(dir, 'no-pods')],
        dockerDirs: [path.join(dir, 'no-docker')],
      },
      { resource: createResource({}), registry, logger: silentLogger(), version: '0' },
    );
    const sink = new ArraySink();
    logs.start(sink);
    const server = await startSelfServer({ host: '127.0.0.1', port: 0 }, { registry, readiness: new Readiness(), logger: silentLogger(), status: agentStatus([logs]) });
    try {
      await until('3 records', () => sink.logs.length >= 3);
      expect(sink.logs.length).toBe(3);
      // Nothing was acknowledged (the sink is no exporter): every byte read is still behind.
      const res = await fetch(`${server.url}/status`);
      expect(res.headers.get('content-type')).toBe('application/json');
      const status = readStatus(await res.text());
      expect(status?.logs?.lag).toEqual([
        { path: big, size: 200, committed: 0 },
        { path: small, size: 2, committed: 0 },
      ]);
    } finally {
      await logs.stop();
      await server.close();
    }
  });

  it('an agent without a log source answers logs: null, and without a status provider 404', async () => {
    expect(await agentStatus([{ name: 'host' }])()).toEqual({ version: 1, logs: null });
    const server = await startSelfServer({ host: '127.0.0.1', port: 0 }, { registry: new Registry(), readiness: new Readiness(), logger: silentLogger() });
    try {
      expect((await fetch(`${server.url}/status`)).status).toBe(404);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
