import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchInfo } from './mixed-batcher.js';

/** The server's Prometheus metrics (one prom-client registry per server, so several servers can share a process). */
export interface ServeMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly batchImages: Histogram;
  readonly batchPrompts: Histogram;
  readonly predictions: Counter<'prompt'>;
  readonly prompts: Gauge;
  readonly refused: Gauge;
  observeBatch(info: BatchInfo): void;
}

/** Creates the metrics; `defaults` adds prom-client's process metrics (CPU, memory, event-loop lag). */
export function createServeMetrics(options: { defaults?: boolean } = {}): ServeMetrics {
  const registry = new Registry();
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: 'promptkd_serve_' });
  const requests = new Counter({
    name: 'promptkd_serve_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'promptkd_serve_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const batchImages = new Histogram({
    name: 'promptkd_serve_batch_images',
    help: 'Images per host forward batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const batchPrompts = new Histogram({
    name: 'promptkd_serve_batch_prompts',
    help: 'Distinct prompts per batch (mixed-prompt batching)',
    buckets: [1, 2, 3, 4, 8, 16, 32],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'promptkd_serve_batch_duration_seconds',
    help: 'Time to run one batch (preprocessing, prompts, host forward, label mappings)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
    registers: [registry],
  });
  const predictions = new Counter({
    name: 'promptkd_serve_prompt_predictions_total',
    help: 'Images predicted, by prompt id',
    labelNames: ['prompt'] as const,
    registers: [registry],
  });
  const prompts = new Gauge({ name: 'promptkd_serve_prompts_loaded', help: 'Prompts being served', registers: [registry] });
  const refused = new Gauge({ name: 'promptkd_serve_prompts_refused', help: 'Prompt files refused (see the log or /v1/status)', registers: [registry] });
  return {
    registry,
    requests,
    latency,
    batchImages,
    batchPrompts,
    predictions,
    prompts,
    refused,
    observeBatch(info) {
      batchImages.observe(info.images);
      batchPrompts.observe(info.prompts);
      batchSeconds.observe(info.seconds);
    },
  };
}
