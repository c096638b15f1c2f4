import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config/load.js';
import { ConfigError } from '../../../../src/errors.js';
import { validateGatewayConfig } from '../../../../src/gateway/config.js';
import { gatewayConfigFrom } from '../../../../src/gateway/from-config.js';
import { DEFAULT_PROBLEMS_CONFIG, validateProblemsConfig } from '../../../../src/gateway/problems/config.js';

/** gateway.problems.*: the documented defaults, the environment, the secret file, the checks. */

describe('gateway.problems keys', () => {
  it('default to DEFAULT_PROBLEMS_CONFIG and are on with the store; off with it', () => {
    const { config } = loadConfig({ argv: [], cwd: '/tmp', env: {} });
    expect(gatewayConfigFrom(config).problems).toEqual(DEFAULT_PROBLEMS_CONFIG);
    const off = loadConfig({ argv: [], cwd: '/tmp', env: { SEXTANT_GATEWAY_STORE_ENABLED: 'false' } });
    expect(gatewayConfigFrom(off.config).problems).toBe(false);
  });

  it('read from the environment, the webhook secret from a file (never printed)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sextant-problems-'));
    try {
      writeFileSync(path.join(dir, 'secret'), 'hook-secret-1234\n');
      const { config } = loadConfig({
        argv: [],
        cwd: dir,
        env: {
          SEXTANT_GATEWAY_PROBLEMS_INTERVAL: '2s',
          SEXTANT_GATEWAY_PROBLEMS_VIOLATIONS: '2',
          SEXTANT_GATEWAY_PROBLEMS_STEPS: '4',
          SEXTANT_GATEWAY_PROBLEMS_THROTTLING_PERCENT: '50',
          SEXTANT_GATEWAY_PROBLEMS_WEBHOOK_URL: 'https://hooks.example.invalid/sextant',
          SEXTANT_GATEWAY_PROBLEMS_WEBHOOK_SECRET_FILE: path.join(dir, 'secret'),
        },
      });
      const g = gatewayConfigFrom(config);
      const p = g.problems;
      if (p === false || p === undefined) throw new Error('problems off');
      expect(p).toMatchObject({ intervalMs: 2_000, violations: 2, steps: 4, throttlingPercent: 50, webhookUrl: 'https://hooks.example.invalid/sextant' });
      expect(p.webhookSecret?.reveal()).toBe('hook-secret-1234');
      expect(JSON.stringify(p)).not.toContain('hook-secret-1234');
      expect(() => validateGatewayConfig(g)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad values naming the key', () => {
    const bad = (env: Record<string, string>): string => {
      try {
        const { config } = loadConfig({ argv: [], cwd: '/tmp', env });
        validateGatewayConfig(gatewayConfigFrom(config));
      } catch (err) {
        return (err as ConfigError).message;
      }
      return 'accepted';
    };
    expect(bad({ SEXTANT_GATEWAY_PROBLEMS_INTERVAL: '10ms' })).toMatch(/gateway\.problems\.interval/);
    expect(bad({ SEXTANT_GATEWAY_PROBLEMS_THROTTLING_PERCENT: '101' })).toMatch(/gateway\.problems\.throttlingPercent/);
    expect(bad({ SEXTANT_GATEWAY_PROBLEMS_VIOLATIONS: '6', SEXTANT_GATEWAY_PROBLEMS_STEPS: '5' })).toMatch(/gateway\.problems\.violations/);
    expect(bad({ SEXTANT_GATEWAY_PROBLEMS_WEBHOOK_URL: 'ftp://x' })).toMatch(/gateway\.problems\.webhookUrl/);
    expect(() => validateProblemsConfig({ ...DEFAULT_PROBLEMS_CONFIG, minHistoryMs: 2 * 3_600_000 })).toThrow(/gateway\.problems\.minHistory/);
  });
});
