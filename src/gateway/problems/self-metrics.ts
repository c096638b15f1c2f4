import { LATENCY_BUCKETS, type Counter, type Gauge, type Histogram, type Registry } from '../../self/registry.js';

/** Problem detection's `/metrics` families (docs/metrics.md, "Problems"). */
export class ProblemMetrics {
  readonly open: Gauge;
  readonly opened: Counter;
  readonly closed: Counter;
  readonly evaluations: Counter;
  readonly evaluationSeconds: Histogram;
  readonly signals: Gauge;
  readonly webhook: Counter;

  constructor(registry: Registry) {
    this.open = registry.gauge('sextant_gateway_problems_open', 'Problems open now.');
    this.opened = registry.counter('sextant_gateway_problems_opened_total', 'Problems opened, by the kind of their root-cause signal.');
    this.closed = registry.counter('sextant_gateway_problems_closed_total', 'Problems closed (all their signals quiet for gateway.problems.closeAfter).');
    this.evaluations = registry.counter('sextant_gateway_problems_evaluations_total', 'Problem evaluations, by result (ok, failed, skipped: the store was unavailable or the last one still ran).');
    this.evaluationSeconds = registry.histogram('sextant_gateway_problems_evaluation_seconds', 'Wall time of one problem evaluation (store reads included).', LATENCY_BUCKETS);
    this.signals = registry.gauge('sextant_gateway_problems_signals', 'Signals active at the last evaluation, by kind.');
    this.webhook = registry.counter('sextant_gateway_problems_webhook_total', 'Webhook deliveries, by result (ok, retry, failed).');
  }
}
