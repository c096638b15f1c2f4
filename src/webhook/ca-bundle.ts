import type { KubeApiClient } from '../enrich/k8s/api-client.js';

/**
 * Puts the webhook's generated CA into exactly its own MutatingWebhookConfiguration: a GET (to
 * learn the names of its webhooks) and a strategic-merge PATCH that sets each webhook's
 * `clientConfig.caBundle` (`webhooks` merges by `name`). The RBAC that allows it names this one
 * object (`resourceNames`), so the webhook can touch no other configuration.
 */
export async function patchCaBundle(client: KubeApiClient, configurationName: string, caPem: string): Promise<number> {
  const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(configurationName)}`;
  const current = (await client.get(path)) as { webhooks?: { name?: unknown }[] } | null;
  const names = (current?.webhooks ?? []).map((w) => w.name).filter((n): n is string => typeof n === 'string');
  if (names.length === 0) return 0;
  const caBundle = Buffer.from(caPem).toString('base64');
  await client.patch(path, { webhooks: names.map((name) => ({ name, clientConfig: { caBundle } })) }, 'application/strategic-merge-patch+json');
  return names.length;
}
