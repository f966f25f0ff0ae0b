export { expectNoTensorLeak, countTensorsDuring } from './leak.js';
export { checkGradients, numericGradient } from './grad-check.js';
export type { GradCheckOptions, GradCheckResult } from './grad-check.js';
export { describeBackends, useBackend } from './backends.js';
export { readFixture, fixturePath } from './fixtures.js';
export { expectClose, maxRelativeError } from './close.js';
export { redisServer, REDIS_MISSING, startTestRedis, type TestRedis } from './redis-server.js';
