export * from './attributes.js';
export * from './resource.js';
export * from './metric.js';
export * from './log.js';
export * from './size.js';
export * from './time.js';
export * from './otlp-block.js';
