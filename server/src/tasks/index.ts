export { LeaseLostError } from './errors.js';
export { buildFallbackDocument } from './fallback-document.js';
export {
  DEFAULT_FALLBACK_INTERVAL_MS,
  FALLBACK_WRITER_TASK,
  type FallbackWriteResult,
  type FallbackWriter,
  type FallbackWriterOptions,
  startFallbackWriter,
} from './fallback-writer.js';
export {
  DEFAULT_JANITOR_INTERVAL_MS,
  DEFAULT_JANITOR_PAGE_SIZE,
  JANITOR_TASK,
  type Janitor,
  type JanitorOptions,
  type JanitorReport,
  type JanitorTopicReport,
  startJanitor,
} from './janitor.js';
export { InProcessLeadership, type Leadership } from './leadership.js';
export {
  DEFAULT_LEASE_INTERVALS,
  PeriodicTask,
  type PeriodicTaskOptions,
  type TaskIteration,
} from './periodic-task.js';
