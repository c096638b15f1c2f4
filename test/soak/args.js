/**
 * The soak's command line: `npm run soak -- --duration 2m --rate 500 --out ./soak-out`.
 * Durations take ms/s/m/h suffixes (a bare number is seconds).
 */

export const USAGE = `usage: npm run soak -- [options]
  --duration D      how long to drive load and faults (default 10m; CI: 2m)
  --rate N          total numbered log lines per second written by all writers (default 500)
  --interval D      agent collection interval (default 5s)
  --out DIR         where soak-report.md, soak-chart.png and the logs go (default ./soak-out)
  --max-rss-mb N    peak agent RSS allowed (default 450: under the DaemonSet's 512Mi limit)
  --drain D         longest wait after the run for the gateway to catch up (default 45s)
  --agent-env K=V   extra environment for the agent (repeatable), e.g. SEXTANT_LOGS_READ_FROM=beginning
  --keep-data       keep the gateway store and agent state even when every check passes
  --seed N          seed of the pseudo-random churn schedule (default 1)`;

export function parseDuration(text, what) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text).trim());
  if (m === null) throw new Error(`${what}: not a duration: ${JSON.stringify(text)} (examples: 90s, 2m)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
  return Math.round(Number(m[1]) * mult);
}

export function parseArgs(argv) {
  const o = { durationMs: 600_000, rate: 500, intervalMs: 5_000, out: './soak-out', maxRssMb: 450, drainMs: 45_000, agentEnv: {}, keepData: false, seed: 1, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') && a.startsWith('--') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--duration':
        o.durationMs = parseDuration(value(), '--duration');
        break;
      case '--rate':
        o.rate = Number(value());
        if (!Number.isInteger(o.rate) || o.rate < 10 || o.rate > 100_000) throw new Error('--rate: an integer from 10 to 100000');
        break;
      case '--interval':
        o.intervalMs = parseDuration(value(), '--interval');
        break;
      case '--out':
        o.out = value();
        break;
      case '--max-rss-mb':
        o.maxRssMb = Number(value());
        break;
      case '--drain':
        o.drainMs = parseDuration(value(), '--drain');
        break;
      case '--agent-env': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error('--agent-env: KEY=VALUE');
        o.agentEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--keep-data':
        o.keepData = true;
        break;
      case '--seed':
        o.seed = Number(value());
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.durationMs < 30_000) throw new Error('--duration: at least 30s (two intervals, a kill, an outage and a storm must fit)');
  return o;
}
