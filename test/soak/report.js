import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { drawChart } from './png.js';

/**
 * soak-report.md (a table of every check, the run's settings and timeline), soak-chart.png
 * (agent RSS and lines/s stored by the gateway over time; outages and 503 storms shaded, SIGKILLs
 * as red lines), samples.csv and timeline.json beside them.
 */
export function writeReport(soak) {
  const o = soak.o;
  const out = soak.out;
  const t0s = Math.floor(soak.t0 / 1000);
  const rss = soak.samples.map((s) => [s.t / 1000, s.rss / 1048576]);
  const end = Math.ceil((soak.runMs + soak.drainMs) / 1000);
  const rate = [];
  for (let s = 0; s <= end; s++) rate.push([s, soak.reader.perSecond.get(t0s + s) ?? 0]);
  const chart = drawChart({
    width: 960,
    height: 420,
    xLabel: 'TIME S',
    left: { label: 'AGENT RSS MIB', color: [200, 30, 30], points: rss },
    right: { label: 'LINES/S STORED', color: [30, 80, 200], points: rate },
    bands: [...soak.outages.map(([a, b]) => [a / 1000, b / 1000, [225, 225, 245]]), ...soak.storms.map(([a, b]) => [a / 1000, b / 1000, [250, 232, 210]])],
    markers: [...soak.kills.map((k) => [k / 1000, [220, 0, 0]]), ...soak.timeline.filter((e) => e.what.startsWith('copytruncate')).map((e) => [e.t / 1000, [0, 150, 0]])],
  });
  writeFileSync(path.join(out, 'soak-chart.png'), chart.toPng());
  writeFileSync(path.join(out, 'samples.csv'), `t_s,pid,rss_bytes,cpu_s\n${soak.samples.map((s) => `${(s.t / 1000).toFixed(1)},${s.pid},${s.rss},${s.cpu.toFixed(2)}`).join('\n')}\n`);
  writeFileSync(path.join(out, 'timeline.json'), `${JSON.stringify({ timeline: soak.timeline, containers: soak.containers }, null, 1)}\n`);

  const pass = soak.checks.every((c) => c.pass);
  const esc = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [];
  lines.push(`# Soak report: ${pass ? 'PASS' : 'FAIL'}`);
  lines.push('');
  lines.push(`${new Date(soak.t0).toISOString()} · host ${process.env.HOSTNAME ?? ''} · Node ${process.version} · load ${(soak.runMs / 1000).toFixed(0)} s, drain ${(soak.drainMs / 1000).toFixed(1)} s, total wall ${(soak.wallMs / 1000).toFixed(0)} s (runtimes setup ${(soak.setupRuntimesMs / 1000).toFixed(1)} s)`);
  lines.push('');
  lines.push(`Settings: \`--duration ${o.durationMs / 1000}s --rate ${o.rate} --interval ${o.intervalMs / 1000}s --seed ${o.seed}\`; agent env: ${Object.entries(soak.agentEnv).filter(([k]) => !/ENDPOINT|STATE_DIR|LISTEN|GLOBS/.test(k)).map(([k, v]) => `\`${k}=${v}\``).join(' ')}`);
  lines.push('');
  lines.push('| check | result | value | detail |');
  lines.push('| --- | --- | --- | --- |');
  for (const c of soak.checks) lines.push(`| ${esc(c.name)} | ${c.pass ? 'pass' : '**FAIL**'} | ${esc(c.value)} | ${esc(c.detail)} |`);
  lines.push('');
  lines.push(`Written: ${soak.written} numbered lines (${(soak.written / (soak.runMs / 1000)).toFixed(0)} lines/s on average) by ${soak.containers.filter((c) => !c.oom).length} containers and one plain file; ${soak.containers.length} containers started in all (${soak.containers.filter((c) => c.oom).length} OOM-killed by design).`);
  lines.push('');
  lines.push('![agent RSS and lines stored per second](soak-chart.png)');
  lines.push('');
  lines.push('Red lines: `kill -9` of the agent; green: copytruncate; blue bands: endpoint down; orange bands: 503 storm.');
  lines.push('');
  lines.push('## Containers');
  lines.push('');
  lines.push('| tag | runtime | id | lived s | end | exit | last line | stored distinct |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of soak.containers) {
    const t = soak.reader.tag(c.tag);
    let distinct = 0;
    for (let n = 0; n <= Math.max(c.expectedMax ?? -1, t.max); n++) if (t.get(n) > 0) distinct++;
    const lived = c.stoppedAt === undefined ? '' : ((c.stoppedAt - c.startedAt) / 1000).toFixed(0);
    const how = c.oom ? 'OOM' : c.killedBySoak ? 'killed' : c.selfExit ? 'exited' : '';
    lines.push(`| ${c.tag} | ${c.kind} | ${c.id.slice(0, 12)} | ${lived} | ${how} | ${c.exitCode ?? ''} | ${c.expectedMax ?? ''} | ${distinct} |`);
  }
  lines.push('');
  lines.push('## Timeline');
  lines.push('');
  lines.push('```');
  for (const e of soak.timeline) lines.push(`${(e.t / 1000).toFixed(1).padStart(7)} s  ${e.what}${e.detail ? ` (${e.detail})` : ''}`);
  lines.push('```');
  lines.push('');
  lines.push('## Agent counters (summed over lifetimes)');
  lines.push('');
  lines.push('```');
  for (const [k, v] of [...soak.counters].sort()) lines.push(`${k} ${v}`);
  for (const [k, v] of [...soak.drops].sort()) lines.push(`${k} ${v}`);
  lines.push('```');
  lines.push('');
  writeFileSync(path.join(out, 'soak-report.md'), `${lines.join('\n')}\n`);
}
