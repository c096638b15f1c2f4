import type { ReflectorMetrics } from '../../enrich/k8s/reflector.js';
import type { Counter, Gauge, Histogram, Registry } from '../../self/registry.js';

/**
 * The cluster monitor's own metrics on the gateway's `/metrics`, registered in one place. The
 * watch counters share their names with the agent's Kubernetes metadata (`resource` tells them
 * apart); the rest are `sextant_cluster_*`.
 */
export class ClusterSelfMetrics {
  readonly watch: ReflectorMetrics;
  /** Objects the converters refused, by resource and reason (unknown_kind, malformed). */
  readonly refused: Counter;
  readonly leader: Gauge;
  /** Leadership gained and lost, by reason. */
  readonly leadership: Counter;
  readonly leaseRequests: Counter;
  readonly objects: Gauge;
  readonly graphProblems: Gauge;
  readonly intervals: Counter;
  readonly intervalSeconds: Histogram;
  readonly points: Counter;
  readonly deliveries: Counter;
  readonly events: Counter;
  readonly eventsQueued: Gauge;

  constructor(r: Registry) {
    this.watch = {
      events: r.counter('sextant_kubernetes_watch_events_total', 'Watch events received from the Kubernetes API, by resource and type.'),
      dropped: r.counter('sextant_kubernetes_watch_dropped_total', 'Watch events and list items dropped as unusable, by resource and reason (malformed, oversized, invalid_utf8, truncated).'),
      relists: r.counter('sextant_kubernetes_relists_total', 'Full lists after the API said 410 Gone (the watch fell too far behind).'),
      errors: r.counter('sextant_kubernetes_api_errors_total', 'Failed Kubernetes API calls, by resource and reason (forbidden, unauthorized, unavailable, timeout, …).'),
    };
    this.refused = r.counter('sextant_cluster_objects_refused_total', 'Objects from the API the cluster monitor did not keep, by resource and reason (unknown_kind: the object says it is another kind; malformed: not in the API shape).');
    this.leader = r.gauge('sextant_cluster_leader', '1 while this gateway holds the cluster-monitor Lease and monitors the cluster.');
    this.leadership = r.counter('sextant_cluster_leadership_changes_total', 'Times this gateway started or stopped monitoring, by change (acquired, lost, released).');
    this.leaseRequests = r.counter('sextant_cluster_lease_requests_total', 'Lease API calls, by verb (get, create, update) and result (ok, conflict, not_found, error).');
    this.objects = r.gauge('sextant_cluster_objects', 'Objects in the cluster object graph, by kind.');
    this.graphProblems = r.gauge('sextant_cluster_graph_problems', 'Bad references in the object graph at the last interval, by problem (owner_missing, owner_cycle, owner_unknown_kind).');
    this.intervals = r.counter('sextant_cluster_intervals_total', 'Cluster metric intervals, by result (done, skipped: the previous one still ran).');
    this.intervalSeconds = r.histogram('sextant_cluster_interval_duration_seconds', 'Wall time of one cluster metric interval (walk the graph, encode, deliver).', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.points = r.counter('sextant_cluster_metric_points_total', 'Cluster metric points produced.');
    this.deliveries = r.counter('sextant_cluster_deliveries_total', 'OTLP requests the cluster monitor handed to the gateway, by signal and result (ok, retry, dropped).');
    this.events = r.counter('sextant_cluster_events_total', 'Kubernetes events, by result (sent; skipped: delivered before, by this or another replica; dropped: the queue was full or the receiver refused them).');
    this.eventsQueued = r.gauge('sextant_cluster_events_queued', 'Kubernetes events waiting to be delivered.');
  }
}
