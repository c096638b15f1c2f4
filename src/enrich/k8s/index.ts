export { KubeApiClient, type KubeApiClientOptions } from './api-client.js';
export type { KubernetesStatus } from './api-health.js';
export { autoSwitch, keyPatterns, label, sourceRefs, type AutoSwitch } from './config-values.js';
export { KubeApiError, type KubeErrorReason } from './kube-error.js';
export { createKubernetesMetadata, type KubernetesConfig, type KubernetesMetadata, type KubernetesMetadataDeps, type KubernetesTuning, SERVICE_ACCOUNT_DIR } from './kubernetes-metadata.js';
export { COST_CENTER, COST_PRODUCT, DT_METADATA_PREFIX, type SourceRef } from './pod-attributes.js';
export type { PodMetadata, PodMetadataLookup } from './pod-metadata-index.js';
