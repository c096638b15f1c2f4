/**
 * The store's tables, after the OpenTelemetry Collector's ClickHouse exporter: one table per
 * signal, resource attributes kept once (`resources`, keyed by a stable hash of the attributes,
 * referenced by a small integer from every row), time columns the rows arrive sorted by, so
 * DuckDB's per-row-group min/max skips what a time range excludes. No indexes: an ART index
 * costs more on every insert than it saves the scans these questions make.
 *
 * Log columns that are usually empty or implied (severity_text when it is the number's own
 * name, attributes when there are none, trace and span ids) are NULL then: a NULL costs a
 * validity bit, a string a native call per row on the way in.
 *
 * Times are integers: `*_ms` Unix milliseconds (points, rollups, first/last seen), `*_ns` Unix
 * nanoseconds (log records, events, spans: their order within a millisecond matters). Attribute
 * sets are canonical JSON text (keys sorted).
 */

/**
 * Bumped when a table changes shape; a store written by a newer version is refused at open.
 * A table added with CREATE TABLE IF NOT EXISTS (`problems`) is no change of shape: a file of
 * the version before gets the table at its next open, and a gateway of that version opens a
 * file that has it (it never reads the table), so the version stays.
 */
export const SCHEMA_VERSION = 1;

export const STORE_FILE = 'sextant.duckdb';

export const SCHEMA_SQL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)`,
  // Dimensions: small, read into memory at open, appended by the single writer only.
  `CREATE TABLE IF NOT EXISTS resources (
    resource_id INTEGER NOT NULL,
    hash VARCHAR NOT NULL,
    entity_id VARCHAR,
    attributes VARCHAR NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS entities (
    entity_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    namespace VARCHAR,
    attributes VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS entity_links (
    child_id VARCHAR NOT NULL,
    parent_id VARCHAR NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL)`,
  // temporality: 0 none (gauge), 1 delta, 2 cumulative (OTLP AggregationTemporality).
  `CREATE TABLE IF NOT EXISTS metrics (
    metric_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    temporality UTINYINT NOT NULL,
    monotonic BOOLEAN NOT NULL,
    description VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS attribute_sets (
    attrs_id INTEGER NOT NULL,
    hash VARCHAR NOT NULL,
    attributes VARCHAR NOT NULL)`,
  // Facts. A histogram or summary point keeps its sum in value and its count in count.
  `CREATE TABLE IF NOT EXISTS points (
    time_ms BIGINT NOT NULL,
    start_ms BIGINT NOT NULL,
    resource_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    attrs_id INTEGER NOT NULL,
    value DOUBLE NOT NULL,
    count BIGINT)`,
  // increase: what a sum grew by within the minute (resets counted from zero); null for gauges.
  `CREATE TABLE IF NOT EXISTS rollups (
    minute_ms BIGINT NOT NULL,
    resource_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    attrs_id INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    sum DOUBLE NOT NULL,
    min DOUBLE NOT NULL,
    max DOUBLE NOT NULL,
    last DOUBLE NOT NULL,
    increase DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS logs (
    time_ns BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    resource_id INTEGER NOT NULL,
    severity UTINYINT NOT NULL,
    severity_text VARCHAR,
    body VARCHAR NOT NULL,
    attributes VARCHAR,
    trace_id VARCHAR,
    span_id VARCHAR,
    scope VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS events (
    time_ns BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    resource_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    severity UTINYINT NOT NULL,
    body VARCHAR NOT NULL,
    attributes VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS spans (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    parent_span_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind UTINYINT NOT NULL,
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    status_code UTINYINT NOT NULL,
    status_message VARCHAR NOT NULL,
    resource_id INTEGER NOT NULL,
    service VARCHAR NOT NULL,
    attributes VARCHAR NOT NULL,
    events VARCHAR NOT NULL)`,
  // Problems (src/gateway/problems/): one row per problem, its document as JSON; `entities` is
  // every entity id it touches (affected, root cause and their ancestors), space-delimited.
  `CREATE TABLE IF NOT EXISTS problems (
    problem_id VARCHAR NOT NULL,
    cause_key VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    opened_ms BIGINT NOT NULL,
    closed_ms BIGINT,
    updated_ms BIGINT NOT NULL,
    root_entity VARCHAR NOT NULL,
    entities VARCHAR NOT NULL,
    doc VARCHAR NOT NULL)`,
];

/** The fact tables and their time column, for retention. */
export const FACT_TIMES: readonly (readonly [table: string, column: string, unitsPerMs: number])[] = [
  ['points', 'time_ms', 1],
  ['rollups', 'minute_ms', 1],
  ['logs', 'time_ns', 1_000_000],
  ['events', 'time_ns', 1_000_000],
  ['spans', 'start_ns', 1_000_000],
];
