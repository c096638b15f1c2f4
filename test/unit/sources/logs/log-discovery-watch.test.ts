import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createResource, type LogRecord } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { LogDiscovery } from '../../../../src/sources/logs/log-discovery.js';
import { LogSource } from '../../../../src/sources/logs/logs-source.js';
import type { RecordSink } from '../../../../src/sources/types.js';
import { until } from '../../../helpers/wait.js';

/**
 * Directory watches reach the directories a log file appears in. Found by the real-writer churn
 * test (test/e2e/logs-churn.test.ts: now and then a CRI pod's whole log never arrived): only
 * the roots and the directories of files already tailed were watched, so a pod directory still
 * empty at the scan its creation triggered (containerd creates `<container>/0.log` a moment
 * later) gave no hint for the file, which waited for the interval rescan — and a short-lived
 * container's log was deleted before that.
 */

const tmp = mkdtempSync(join(tmpdir(), 'sextant-ldw-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const POD = 'shop_web-7d9_5f0c6a3e-2b1d-4c8e-9f7a-0123456789ab';

describe('LogDiscovery watches the directories it lists', () => {
  it('scan lists the pod and container directories; watching them makes a file created in one a hint', async () => {
    const root = join(tmp, `h${n++}`);
    mkdirSync(join(root, `var/log/pods/${POD}/web`), { recursive: true });
    const d = new LogDiscovery({ hostRoot: root });
    try {
      const scan = await d.scan();
      expect(scan.dirs).toEqual([join(root, `var/log/pods/${POD}`), join(root, `var/log/pods/${POD}/web`)]);
      let hints = 0;
      expect(d.watch(scan.dirs, () => hints++)).toBe(3); // the pods root (no Docker root here) and the two directories
      expect(d.watch(scan.dirs, () => hints++)).toBe(0); // already watched: kept, nothing new
      appendFileSync(join(root, `var/log/pods/${POD}/web/0.log`), 'x\n');
      await until('a hint', () => hints > 0, 2_000);
    } finally {
      d.unwatch();
    }
  });

  it('LogSource: a log file appearing in a pod directory that was empty at the last scan is read at once, not at the interval rescan', async () => {
    const root = join(tmp, `h${n++}`);
    mkdirSync(join(root, 'var/log/pods'), { recursive: true });
    const state = join(root, 'state');
    mkdirSync(state);
    const logs: LogRecord[] = [];
    const sink: RecordSink = {
      offerMetric: () => true,
      offerEvent: () => true,
      offerLog: (r: LogRecord) => {
        logs.push(r);
        r.ack?.settle(r.ackToken!, true);
        return true;
      },
      onLogsDrain: () => undefined,
    };
    const src = new LogSource(
      // The interval rescan is far away: only watches can find the file in time.
      { hostRoot: root, stateDir: state, readFrom: 'beginning', maxRecordBytes: 1024 * 1024, rescanIntervalMs: 60_000, checkpointIntervalMs: 100, globs: [] },
      { resource: createResource({ 'host.name': 'n' }), registry: new Registry(), logger: silentLogger(), version: 't' },
    );
    src.start(sink);
    try {
      await new Promise((r) => setTimeout(r, 300));
      mkdirSync(join(root, `var/log/pods/${POD}`)); // the pod's directory: a hint, a scan, nothing to read yet
      await new Promise((r) => setTimeout(r, 500));
      mkdirSync(join(root, `var/log/pods/${POD}/web`)); // the container's, a moment later
      await new Promise((r) => setTimeout(r, 300));
      appendFileSync(join(root, `var/log/pods/${POD}/web/0.log`), '2026-11-25T10:00:00.000000000Z stdout F hello\n');
      await until('the line read', () => logs.length === 1, 3_000);
      expect(logs[0]!.body).toBe('hello');
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });
});
