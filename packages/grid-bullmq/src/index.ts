export { QueueAuthError, QueueConnectionError } from './errors.js';
export { checkRedis, redact, resolveRedis, type RedisSource, type RedisTarget } from './connection.js';
export {
  checkGridName,
  DEFAULT_QUEUE_NAME,
  fingerprint,
  jobIdOf,
  packFolders,
  unpackFiles,
  type GridJobData,
  type GridJobResult,
  type PackLimits,
} from './job.js';
export { createRedisGridQueue, openQueue, type QueueLocation, type RedisGridQueueOptions } from './producer.js';
export { startGridWorker, type GridCellContext, type GridCellKind, type GridWorker, type GridWorkerOptions } from './worker.js';
export { collectGrid, formatStatus, gridStatus, removeGrid, type CellStatus } from './status.js';
export { PROMPTKD_VERSION, QUEUE_OPTION_FLAGS, redisFromCli, wantsQueue, type QueueCliOptions } from './cli-options.js';
export { runGridOnQueue, type QueueGridOptions, type RunGridOnQueueOptions } from './run-grid-on-queue.js';
