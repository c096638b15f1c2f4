import { dnsName, duration, type KeySpec } from '../../config-kinds/values.js';
import { autoSwitch } from '../../enrich/k8s/config-values.js';

/**
 * The `cluster:` section: the gateway's cluster monitor (the ActiveGate's kubernetes-monitoring
 * role). `src/config/schema.ts` composes it as `cluster`; the Kubernetes API itself is reached
 * with the `kubernetes.*` keys the agent uses (apiServer, tokenFile, caFile, clusterName, and
 * the attribute rules), or the pod's service account.
 */
export const clusterKeys = {
  enabled: autoSwitch({
    description:
      'Monitor the Kubernetes cluster from the gateway: workloads, pods, nodes, quotas, claims and events, as OTLP metrics and log events, by one replica at a time (a Lease elects it). auto: on when the gateway runs in a pod or kubernetes.apiServer is set.',
    default: 'auto',
  }),
  interval: duration({ description: 'How often the cluster metrics are computed and sent (events are sent as they happen).', default: '30s', min: '1s', max: '10m' }),
  leaseNamespace: dnsName({ description: "Namespace of the Lease that elects the monitoring replica (the gateway's own). Empty: the namespace of the pod's service account.", default: '' }),
  leaseDuration: duration({
    description: 'How long a monitoring replica that stops renewing its Lease keeps it: a standby replica takes over at most this long after the leader died (at once when it stops cleanly).',
    default: '15s',
    min: '2s',
    max: '5m',
  }),
};

type ValuesOf<S> = { readonly [K in keyof S]: S[K] extends KeySpec<infer T> ? T : ValuesOf<S[K]> };

/** The loaded section: durations in ms. */
export type ClusterSection = ValuesOf<typeof clusterKeys>;
