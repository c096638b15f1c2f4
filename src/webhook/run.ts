import { readFileSync } from 'node:fs';
import { KubeApiClient } from '../enrich/k8s/api-client.js';
import { type KubernetesConfig, SERVICE_ACCOUNT_DIR } from '../enrich/k8s/kubernetes-metadata.js';
import { TokenSource } from '../enrich/k8s/token-source.js';
import { formatBytes, type ListenAddress } from '../config-kinds/values.js';
import { ConfigError } from '../errors.js';
import { createLogger, type LogLevel, type Logger } from '../self/logger.js';
import { Registry } from '../self/registry.js';
import { Readiness, registerProcessMetrics, startSelfServer } from '../self/server.js';
import { untilStopSignal } from '../self/stop-signal.js';
import { packageVersion } from '../version.js';
import { patchCaBundle } from './ca-bundle.js';
import { issueCertificates, serviceDnsNames } from './certificates.js';
import { NamespaceAnnotations } from './namespace-annotations.js';
import type { WebhookConfig } from './config.js';
import type { InjectionSettings } from './pod-mutator.js';

/**
 * The keys `sextant webhook` reads (a SextantConfig has them all): its own section, the
 * Kubernetes API's address, the self endpoints and the log level. Named here so the webhook does
 * not import the schema that imports its section.
 */
export interface WebhookRunConfig {
  readonly webhook: WebhookConfig;
  readonly kubernetes: Pick<KubernetesConfig, 'apiServer' | 'tokenFile' | 'caFile'>;
  readonly listen: ListenAddress;
  readonly logLevel: LogLevel;
}
import { startWebhookServer } from './webhook-server.js';

/** The API client for namespace annotations and the caBundle patch; undefined outside a cluster. */
function webhookApiClient(config: WebhookRunConfig, env: Readonly<Record<string, string | undefined>> = process.env, saDir = SERVICE_ACCOUNT_DIR): KubeApiClient | undefined {
  const k = config.kubernetes;
  let server = k.apiServer;
  if (server === undefined) {
    const host = env['KUBERNETES_SERVICE_HOST']?.trim();
    if (host === undefined || host === '') return undefined;
    server = `https://${host.includes(':') ? `[${host}]` : host}:${env['KUBERNETES_SERVICE_PORT']?.trim() || '443'}`;
  }
  const caFile = k.caFile ?? (server.startsWith('https:') ? `${saDir}/ca.crt` : undefined);
  let ca: string | undefined;
  try {
    ca = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
  } catch {
    ca = undefined;
  }
  const tokenFile = k.tokenFile ?? `${saDir}/token`;
  let token: TokenSource | undefined;
  try {
    readFileSync(tokenFile);
    token = new TokenSource(tokenFile);
  } catch {
    token = undefined;
  }
  return new KubeApiClient({ server, ca, token, requestTimeoutMs: 10_000, maxResponseBytes: 4 * 1024 * 1024, userAgent: `sextant-webhook/${packageVersion()}` });
}

/** Kubernetes quantity for a byte count (the emptyDir sizeLimit): 256MiB → 256Mi. */
function quantity(bytes: number): string {
  const f = formatBytes(bytes);
  return typeof f === 'number' ? String(f) : f.replace(/B$/, '');
}

function injectionSettings(config: WebhookRunConfig): InjectionSettings {
  const w = config.webhook;
  return {
    image: w.image !== '' ? w.image : `sextant:${packageVersion()}`,
    agentPort: w.agentPort,
    disabledInstrumentations: w.disabledInstrumentations,
    resourceDetectors: w.resourceDetectors,
    bundleSizeLimit: quantity(w.bundleSizeLimit),
  };
}

/** Retries the caBundle patch with backoff until it lands or the webhook stops. */
async function keepPatching(client: KubeApiClient, name: string, caPem: string, logger: Logger, readiness: Readiness, stopped: AbortSignal): Promise<void> {
  for (let delay = 1000; !stopped.aborted; delay = Math.min(delay * 2, 60_000)) {
    try {
      const n = await patchCaBundle(client, name, caPem);
      if (n === 0) throw new Error(`MutatingWebhookConfiguration ${name} has no webhooks`);
      logger.info({ configuration: name, webhooks: n }, 'caBundle patched with the generated CA');
      readiness.markReady();
      return;
    } catch (err) {
      readiness.markNotReady(`caBundle not patched yet: ${(err as Error).message}`);
      logger.warn({ configuration: name, err: (err as Error).message, retryInMs: delay }, 'cannot patch caBundle; retrying');
    }
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
  }
}

/**
 * `sextant webhook`: the mutating admission webhook. A certificate from files (a Secret), or a
 * CA and certificate made now with the CA patched into its own MutatingWebhookConfiguration.
 * Ready once it serves with a certificate the API server trusts.
 */
export async function runWebhook(
  config: WebhookRunConfig,
  options: { loaded?: { readonly warnings: readonly { readonly key: string; readonly message: string }[] }; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<number> {
  const logger = createLogger(config.logLevel).child({ component: 'webhook' });
  for (const w of options.loaded?.warnings ?? []) if (w.key.startsWith('webhook.') || w.key.startsWith('kubernetes.')) logger.warn({ key: w.key }, w.message);
  const w = config.webhook;
  if ((w.tlsCertFile === undefined) !== (w.tlsKeyFile === undefined)) {
    throw new ConfigError(w.tlsCertFile === undefined ? 'webhook.tlsCertFile' : 'webhook.tlsKeyFile', 'set both webhook.tlsCertFile and webhook.tlsKeyFile, or neither (the webhook then makes its own)');
  }
  const registry = new Registry();
  registerProcessMetrics(registry);
  const readiness = new Readiness();
  const client = webhookApiClient(config, options.env);
  let certPem: string;
  let keyPem: string;
  let caPem: string | undefined;
  if (w.tlsCertFile !== undefined && w.tlsKeyFile !== undefined) {
    certPem = readFileSync(w.tlsCertFile, 'utf8');
    keyPem = readFileSync(w.tlsKeyFile, 'utf8');
  } else {
    const issued = issueCertificates(serviceDnsNames(w.serviceName, w.namespace));
    ({ certPem, keyPem, caPem } = issued);
    logger.info({ dnsNames: serviceDnsNames(w.serviceName, w.namespace), notAfter: issued.notAfter.toISOString() }, 'generated a CA and serving certificate');
  }
  const server = await startWebhookServer(
    { listen: w.listen, certPem, keyPem, maxRequestBytes: w.maxRequestBytes, ownNamespace: w.namespace, settings: injectionSettings(config) },
    { logger, registry, namespaces: new NamespaceAnnotations(client, w.namespaceCacheTtl) },
  );
  const stopped = new AbortController();
  if (caPem !== undefined && w.configurationName !== '') {
    if (client === undefined) {
      logger.warn('no Kubernetes API (not in a pod, kubernetes.apiServer unset): the generated CA is not patched into any caBundle');
      readiness.markReady();
    } else {
      readiness.markNotReady('caBundle not patched yet');
      void keepPatching(client, w.configurationName, caPem, logger, readiness, stopped.signal);
    }
  } else readiness.markReady();
  const self = await startSelfServer(config.listen, { registry, readiness, logger });
  logger.info({ version: packageVersion(), url: server.url, self: self.url, certificate: caPem === undefined ? 'files' : 'generated' }, 'webhook started');
  const signal = await untilStopSignal(logger);
  stopped.abort();
  logger.info({ signal }, 'webhook stopping');
  await server.close();
  await client?.close();
  await self.close();
  return 0;
}
