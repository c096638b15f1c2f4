import { boolean, duration, integer, secret, secretFile, url } from '../../config-kinds/values.js';

/**
 * Problem detection (the Davis role): keys composed into the `gateway` section of the schema as
 * `gateway.problems.*`. Defaults match `DEFAULT_PROBLEMS_CONFIG` in ./config.ts.
 */
export const GATEWAY_PROBLEM_KEYS = {
  enabled: boolean({ description: 'Detect problems (event rules, metric baselines, root cause) from what the store keeps; needs gateway.storeEnabled.', default: true }),
  interval: duration({ description: 'How often problems are evaluated.', default: '30s', min: '1s', max: '1h' }),
  window: duration({ description: 'History a metric baseline is learnt from (median and MAD of the steps before the latest ones).', default: '1h', min: '1m', max: '24h' }),
  minHistory: duration({ description: 'A series needs this much history before its baseline gives a verdict (the longest learning period).', default: '10m', min: '10s', max: '1h' }),
  step: duration({ description: 'Metric series are read in steps of this length (an average per step); 0: the evaluation interval.', default: '0s', zero: 'the evaluation interval', min: '1s', max: '10m' }),
  violations: integer({ description: 'k of k-of-n: a baseline anomaly opens when at least this many of the latest gateway.problems.steps steps violate it.', default: 3, min: 1, max: { value: 100 } }),
  steps: integer({ description: 'n of k-of-n: how many of the latest steps are judged.', default: 5, min: 1, max: { value: 100 } }),
  deviations: integer({ description: 'A step violates its baseline above median + this many robust standard deviations (1.4826 × MAD).', default: 5, min: 1, max: { value: 100 } }),
  closeAfter: duration({ description: 'Hysteresis: a problem closes only after all its signals have been quiet for this long.', default: '5m', min: '1s', max: '24h' }),
  eventHold: duration({ description: 'An event (OOM kill, non-zero exit, reboot, Kubernetes warning) keeps its signal active for this long.', default: '5m', min: '1s', max: '24h' }),
  crashLoopRestarts: integer({ description: 'Restarts (or non-zero exits) of one container within gateway.problems.crashLoopWindow that make a crash loop.', default: 3, min: 2, max: { value: 1000 } }),
  crashLoopWindow: duration({ description: 'The window gateway.problems.crashLoopRestarts counts in.', default: '10m', min: '10s', max: '24h' }),
  throttlingPercent: integer({ description: 'CPU throttling: a container whose throttled periods exceed this share (percent) of its CFS periods in k of n steps.', default: 25, min: 1, max: { value: 100 } }),
  filesystemPercent: integer({ description: 'A filesystem used above this percent is almost full.', default: 90, min: 1, max: { value: 100 } }),
  filesystemTimeToFull: duration({ description: 'A filesystem above half full whose trend fills it within this long is almost full too.', default: '1h', min: '1m', max: '720h' }),
  errorLogsPerMinute: integer({ description: 'An error-log rate anomaly (per workload, else pod, else container) needs at least this many ERROR-or-worse lines a minute.', default: 10, min: 1, max: { value: 10_000_000 } }),
  pendingAfter: duration({ description: 'A pod Pending (or unschedulable) this long is a problem.', default: '5m', min: '1s', max: '24h' }),
  webhookUrl: url({ description: 'Optional URL a JSON POST goes to when a problem opens or closes (retried with backoff).' }),
  webhookSecret: secret({ description: 'Secret sent in the X-Sextant-Webhook-Secret header of each webhook POST.' }),
  webhookSecretFile: secretFile({ description: 'File holding gateway.problems.webhookSecret.', fills: 'gateway.problems.webhookSecret' }),
};
