export { RingBuffer } from './ring-buffer.js';
export { SignalQueue, SharedBudget, type SignalQueueOptions } from './signal-queue.js';
export { Batcher, type BatchLimits } from './batcher.js';
export { Dispatcher, type Codec, type Lane, type DispatcherOptions, type FlushResult } from './dispatcher.js';
export {
  createPipeline,
  DEFAULT_PIPELINE_CONFIG,
  type Pipeline,
  type PipelineConfig,
  type PipelineDeps,
  type PipelineStats,
  type SignalStats,
  type QueueBounds,
  type BatchConfig,
} from './pipeline.js';
export {
  createPipelineMetrics,
  PIPELINE_SIGNALS,
  DROP_REASONS,
  type PipelineSignal,
  type DropReason,
  type PipelineMetrics,
  type SignalMetrics,
} from './self-metrics.js';
