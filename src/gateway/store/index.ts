export { TelemetryStore, type StoreDeps, type StoreState } from './telemetry-store.js';
export { DEFAULT_STORE_CONFIG, DEFAULT_STORE_TUNING, validateStoreConfig, type StoreConfig, type StoreTuning } from './config.js';
export { QueryBusyError, QueryTimeoutError, StoreUnavailableError, type StoreProblem } from './store-errors.js';
export type { QueryParam, Row, RowValue } from './query-pool.js';
export type { Catalog, EntityEntry, GraphObject, MetricEntry } from './catalog.js';
export type { RequestDecoder } from './store-writer.js';
export type { MaintenanceReport } from './maintenance.js';
export { ENTITY_TYPES, entityId, isEntityType, type EntityType } from './entities.js';
export { STORE_FILE } from './schema.js';
