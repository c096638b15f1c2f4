export { loadConfig, type ConfigWarning, type LoadedConfig, type LoadOptions, type Source } from './load.js';
export { redactedConfig, renderCheckYaml } from './render.js';
export { KEYS, KEYS_BY_ENV, KEYS_BY_FLAG, KEYS_BY_PATH, schema, type KeyInfo, type SextantConfig } from './schema.js';
export { Secret } from '../config-kinds/secret.js';
export { UsageError } from './flags.js';
export { envName, flagName } from '../config-kinds/names.js';
export { formatBytes, formatDuration, formatListen, type ListenAddress } from '../config-kinds/values.js';
