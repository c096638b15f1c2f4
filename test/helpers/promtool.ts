import { spawnSync } from 'node:child_process';

/**
 * `promtool check metrics` (Debian's prometheus package; .ci/run installs it): parses Prometheus
 * text exposition and lints it (a `_total` gauge, a counter without `_total`, missing help …).
 * Under CI=true a missing promtool throws when the test file loads, so the file fails rather
 * than skips; elsewhere `available` is false and the caller skips, with `reason` in its title.
 */
export function promtoolOrSkip(): { available: boolean; reason: string } {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) return { available: true, reason: '' };
  if (process.env['CI'] === 'true') throw new Error("CI=true and promtool is missing: install Debian's prometheus package (.ci/run does)");
  return { available: false, reason: " (skipped: promtool is not installed; Debian's prometheus package has it)" };
}

/** promtool's verdict on `text`: status 0 and no output when it has nothing to say. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
