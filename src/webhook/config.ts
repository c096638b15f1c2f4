import type { ConfigOf } from '../config-kinds/section.js';
import { bytes, dnsName, duration, integer, list, listen, path } from '../config-kinds/values.js';
import { label } from '../enrich/k8s/config-values.js';

/**
 * The `webhook:` section: `sextant webhook`, the mutating admission webhook that injects Node.js
 * auto-instrumentation into annotated pods and points it at the agent on their node.
 */
export const WEBHOOK_KEYS = {
  listen: listen({ description: 'Address the webhook serves HTTPS on (POST /mutate, AdmissionReview admission.k8s.io/v1).', default: '0.0.0.0:8443' }),
  tlsCertFile: path({ description: 'Serving certificate (PEM, a Secret mount such as cert-manager\'s tls.crt). Unset with tlsKeyFile: the webhook makes its own CA and certificate at start and patches caBundle.', file: true }),
  tlsKeyFile: path({ description: 'Private key (PEM) of tlsCertFile.', file: true }),
  serviceName: dnsName({ description: 'The webhook\'s Service: the generated certificate is for <serviceName>.<namespace>.svc.', default: 'sextant-webhook' }),
  namespace: dnsName({ description: 'The namespace the webhook runs in (downward API metadata.namespace): never mutated, and the generated certificate names it.', default: 'sextant' }),
  configurationName: dnsName({
    description: 'The MutatingWebhookConfiguration whose caBundle the webhook patches with its generated CA (RBAC grants get and patch on this name only). Empty: no patch.',
    default: 'sextant-webhook',
  }),
  image: label({ description: 'The image of the injected init container: a Sextant image, which carries the instrumentation bundle. Empty: sextant:<version>.', default: '', maxChars: 512 }),
  agentPort: integer({ description: 'Port of the agent\'s OTLP/HTTP receiver on each node (receiver.httpListen), which injected applications send to at status.hostIP.', default: 4318, min: 1, max: { value: 65535 } }),
  disabledInstrumentations: list({
    description: 'Instrumentations switched off in injected applications (OTEL_NODE_DISABLED_INSTRUMENTATIONS): fs, dns and net make a span per call and drown the useful ones.',
    default: ['fs', 'dns', 'net'],
  }),
  resourceDetectors: label({
    description: 'OTEL_NODE_RESOURCE_DETECTORS of injected applications. The cloud detectors (aws, gcp, azure, alibaba) call metadata endpoints at start; the agent adds the node\'s own attributes anyway.',
    default: 'env,host,os,process,serviceinstance,container',
    maxChars: 256,
  }),
  bundleSizeLimit: bytes({ description: 'sizeLimit of the emptyDir the bundle is copied into (the kubelet evicts a pod that writes past it).', default: '256MiB', min: 1024 * 1024, max: { value: 16 * 1024 ** 3 } }),
  maxRequestBytes: bytes({ description: 'Largest AdmissionReview body (413 above; the API server caps objects at ~3 MB).', default: '4MiB', min: 64 * 1024, max: { value: 64 * 1024 * 1024 } }),
  namespaceCacheTtl: duration({ description: 'How long a namespace\'s annotations read from the API are reused.', default: '30s', min: '1s', max: '1h', zero: 'read every time' }),
};

/** The `webhook:` section as loaded. */
export type WebhookConfig = ConfigOf<typeof WEBHOOK_KEYS>;
