import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import { encode as encodePng } from 'fast-png';
import { ConfigError, PromptKdError } from '@promptkd/core';
import { allows, ApiKeyGate, readApiKeyFile, type ApiKey, type KeyScope } from './api-keys.js';
import { loadHost, type LoadedHost } from './host.js';
import { decodeUpload, parseRawPixels, parseRawShape } from './image-input.js';
import { createServeMetrics, type ServeMetrics } from './metrics.js';
import { MixedBatcher, type BatchingOptions, type RowResult } from './mixed-batcher.js';
import { PromptRegistry } from './prompt-registry.js';
import type { ServedPrompt } from './served-prompt.js';
import { topK, type TopClass } from './top-k.js';

/** Options of {@link createPromptServer}. */
export interface PromptServerOptions extends BatchingOptions {
  /** The frozen host: a loaded host, a `.safetensors` path, or a model-cache key. */
  readonly host: LoadedHost | string;
  /** Folder of prompt artifacts (searched recursively; watched unless `watch: false`). */
  readonly prompts: string;
  /** Model cache for host keys (default `$PROMPTKD_MODELS` or `~/.cache/promptkd/models`). */
  readonly cacheDir?: string;
  readonly watch?: boolean;
  /** API keys; with keys (or a key file), every `/v1` route and `/metrics` needs `Authorization: Bearer <key>`. */
  readonly apiKeys?: readonly ApiKey[];
  /** JSON key file (see `readApiKeyFile`). */
  readonly apiKeyFile?: string;
  /** Largest request body / uploaded file, in bytes (default 8 MiB). */
  readonly maxUploadBytes?: number;
  /** Most images in one request (default 64). */
  readonly maxImagesPerRequest?: number;
  /** Largest decoded upload, in pixels (default 4096²). */
  readonly maxImagePixels?: number;
  /** Fastify logger option (default: info level to stdout). */
  readonly logger?: FastifyServerOptions['logger'];
  /** prom-client's process metrics in `/metrics` (default true). */
  readonly processMetrics?: boolean;
}

/** What a prompt server holds, on `app.promptkd`. */
export interface PromptServerState {
  readonly host: LoadedHost;
  readonly registry: PromptRegistry;
  readonly batcher: MixedBatcher;
  readonly metrics: ServeMetrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    promptkd: PromptServerState;
  }
  interface FastifyRequest {
    keyScope: KeyScope | undefined;
  }
}

/** One image's answer. */
export interface Prediction {
  readonly top: readonly TopClass[];
  /** Source-task logits (host logits read through π), float32 values. */
  readonly logits: readonly number[];
  /** With `?explain=canvas`: the prompted canvas the host saw, as a PNG data URL. */
  readonly canvas?: string;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  E_CONFIG: 400,
  E_SHAPE: 400,
  E_FORMAT: 400,
  E_NONFINITE: 422,
  E_NOT_FOUND: 404,
  E_AUTH: 401,
  E_FORBIDDEN: 403,
  E_MEDIA_TYPE: 415,
  E_BUSY: 503,
  E_ABORTED: 499,
};

class HttpError extends PromptKdError {}

function canvasDataUrl(c: NonNullable<RowResult['canvas']>): string {
  const data = new Uint8Array(c.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, Math.round((c.data[i] as number) * 255)));
  const png = encodePng({ width: c.width, height: c.height, data, channels: c.channels, depth: 8 });
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

function fastifyMessage(err: { code?: string; message: string; statusCode?: number }, limits: { bytes: number; images: number }): string {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return `The upload is larger than the ${limits.bytes}-byte limit (server option maxUploadBytes / --max-upload-bytes).`;
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return `Too many files or fields in one request; at most ${limits.images} images per request.`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `Unsupported Content-Type. Send multipart/form-data (field 'image', one or more files), image/png, image/jpeg, or application/octet-stream (raw float32 NHWC with ?shape=N,H,W,C).`;
    default:
      return err.message;
  }
}

/**
 * A Fastify server for one frozen host and a folder of prompt artifacts (KiOP "prompt as a service"):
 *
 * - `GET /v1/prompts`, `GET /v1/prompts/:id`: what is served (source dataset, class names, canvas sizes,
 *   parameter count, recorded Acc.B);
 * - `POST /v1/prompts/:id/predict[?k=5&explain=canvas]`: PNG/JPEG uploads (multipart field(s), or the body) or raw
 *   float32 NHWC pixels → top-k classes with probabilities (and the prompted canvas);
 * - `GET /v1/status` (operator): host, refused files with reasons, batching;
 * - `GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus), and a small web page at `/`.
 *
 * Requests for different prompts share one host forward ({@link MixedBatcher}). The returned instance is not
 * listening yet: `await app.listen({ host: '127.0.0.1', port: 0 })`. Closing it stops the watcher and frees the
 * prompts (and the host when it was loaded here).
 */
export async function createPromptServer(options: PromptServerOptions): Promise<FastifyInstance> {
  const maxUploadBytes = options.maxUploadBytes ?? 8 * 2 ** 20;
  const maxImages = options.maxImagesPerRequest ?? 64;
  for (const [field, v] of [['maxUploadBytes', maxUploadBytes], ['maxImagesPerRequest', maxImages]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`Server option '${field}' must be a positive integer, got ${v}.`, { field, value: v });
  }
  const keys = options.apiKeys ?? (options.apiKeyFile ? readApiKeyFile(options.apiKeyFile) : undefined);
  const gate = keys ? new ApiKeyGate(keys) : undefined;
  const ownsHost = typeof options.host === 'string';
  const host = typeof options.host === 'string' ? await loadHost(options.host, { cacheDir: options.cacheDir }) : options.host;

  const app = Fastify({
    logger: options.logger ?? { level: 'info' },
    bodyLimit: maxUploadBytes,
    // one line per request would swamp the log under load; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
  });
  const metrics = createServeMetrics({ defaults: options.processMetrics ?? true });
  const batcher = new MixedBatcher(host.model, options, (info) => metrics.observeBatch(info));
  app.server.on('connection', () => batcher.connectionAccepted());
  const registry = new PromptRegistry({ dir: options.prompts, host, log: app.log, watch: options.watch });
  let closing = false;
  app.decorate('promptkd', { host, registry, batcher, metrics });
  app.decorateRequest('keyScope', undefined);

  app.addContentTypeParser(['image/png', 'image/jpeg', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(multipart, {
    limits: { fileSize: maxUploadBytes, files: maxImages, fields: 8, parts: maxImages + 8 },
  });
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/', index: ['index.html'] });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, req, reply) => {
    let status: number;
    let code: string;
    let message: string;
    if (err instanceof PromptKdError) {
      status = STATUS_BY_CODE[err.code] ?? 400;
      code = err.code;
      message = err.message;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      code = err.code ?? 'E_REQUEST';
      message = fastifyMessage(err, { bytes: maxUploadBytes, images: maxImages });
    } else {
      req.log.error({ err }, 'request failed');
      status = 500;
      code = 'E_INTERNAL';
      message = 'Internal error; the server log has the details.';
    }
    if (status === 401) void reply.header('WWW-Authenticate', 'Bearer');
    return reply.status(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}.` } }),
  );

  app.addHook('onRequest', async (req) => {
    if (!gate) return;
    const path = req.url.split('?')[0] ?? '';
    if (!path.startsWith('/v1/') && path !== '/v1' && path !== '/metrics') return;
    const scope = gate.authorize(req.headers.authorization);
    if (!scope) throw new HttpError('E_AUTH', 'This route needs an API key: send Authorization: Bearer <key>.');
    req.keyScope = scope;
    if (path === '/metrics' && !scope.all) throw new HttpError('E_FORBIDDEN', `Key '${scope.name}' is limited to some prompts; /metrics needs an unscoped key.`);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'not-found';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.addHook('onClose', async () => {
    closing = true;
    batcher.close();
    await registry.close();
    if (ownsHost) host.model.dispose();
  });

  const visible = (req: FastifyRequest, id: string): ServedPrompt => {
    const p = registry.get(id);
    if (!p || !allows(req.keyScope, id)) {
      throw new HttpError('E_NOT_FOUND', `No prompt '${id}'. GET /v1/prompts lists the prompts this key can use.`, { id });
    }
    return p;
  };
  const hostInfo = () => ({ arch: host.arch, ...(host.dataset ? { dataset: host.dataset } : {}), sha256: host.sha256 });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = !closing;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'closing', prompts: registry.list().length });
  });
  app.get('/metrics', async (_req, reply) => {
    metrics.prompts.set(registry.list().length);
    metrics.refused.set(registry.refused().length);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/v1/prompts', async (req) => ({
    host: hostInfo(),
    prompts: registry.summaries().filter((s) => allows(req.keyScope, s.id)),
  }));
  app.get<{ Params: { id: string } }>('/v1/prompts/:id', async (req) => visible(req, req.params.id).summary());
  app.get('/v1/status', async (req) => {
    if (req.keyScope && !req.keyScope.all) throw new HttpError('E_FORBIDDEN', `Key '${req.keyScope.name}' is limited to some prompts; /v1/status needs an unscoped key.`);
    return {
      host: { ...hostInfo(), file: host.file, numClasses: host.model.numClasses },
      prompts: registry.list().map((p) => ({ id: p.id, file: p.file })),
      refused: registry.refused(),
      batching: { maxBatchSize: batcher.maxBatchSize, maxWaitMs: batcher.maxWaitMs, acceptWindowMs: batcher.acceptWindowMs, pendingImages: batcher.pending },
    };
  });

  app.post<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>('/v1/prompts/:id/predict', async (req, reply) => {
    const { id } = req.params;
    visible(req, id); // 404 before reading the body
    const k = req.query.k === undefined ? 5 : Number(req.query.k);
    if (!Number.isInteger(k) || k < 1) throw new ConfigError(`Query 'k' must be a positive integer, got '${req.query.k}'.`, { field: 'k' });
    const explain = req.query.explain;
    if (explain !== undefined && explain !== 'canvas') throw new ConfigError(`Query 'explain' can only be 'canvas', got '${explain}'.`, { field: 'explain' });

    // the body: uploads (multipart or one image) or raw float32 pixels
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const uploads: { name: string; bytes: Uint8Array }[] = [];
    let raw: { bytes: Uint8Array; shape: unknown } | undefined;
    if (req.isMultipart()) {
      for await (const part of req.parts()) {
        if (part.type === 'file') uploads.push({ name: part.filename || part.fieldname, bytes: new Uint8Array(await part.toBuffer()) });
      }
      if (uploads.length === 0) throw new ConfigError("The multipart request has no file; send the image(s) in field 'image'.", { field: 'image' });
    } else if (type === 'application/octet-stream') {
      raw = { bytes: req.body as Buffer, shape: req.query.shape };
    } else if (type === 'image/png' || type === 'image/jpeg') {
      uploads.push({ name: 'body', bytes: new Uint8Array(req.body as Buffer) });
    } else {
      throw new HttpError('E_MEDIA_TYPE', fastifyMessage({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: '' }, { bytes: maxUploadBytes, images: maxImages }));
    }
    // the prompt may have been reloaded or removed while the body streamed in: look it up again
    const prompt = visible(req, id);
    const [h, w, c] = prompt.imageShape;
    let images: Float32Array;
    let count: number;
    if (raw) {
      const shape = parseRawShape(raw.shape, prompt.imageShape, maxImages);
      images = parseRawPixels(raw.bytes, shape);
      count = shape[0];
    } else {
      if (uploads.length > maxImages) throw new ConfigError(`At most ${maxImages} images per request; got ${uploads.length}.`, { field: 'image' });
      count = uploads.length;
      images = new Float32Array(count * h * w * c);
      uploads.forEach((u, i) => images.set(decodeUpload(u.bytes, u.name, prompt.imageShape, { maxPixels: options.maxImagePixels }), i * h * w * c));
    }
    const controller = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort();
    };
    reply.raw.once('close', onClose);
    if (req.raw.socket?.destroyed) controller.abort(); // gone before we listened
    try {
      const rows = await batcher.predict({ prompt, images, count, canvas: explain === 'canvas', signal: controller.signal });
      metrics.predictions.inc({ prompt: id }, count);
      const predictions: Prediction[] = rows.map((r) => ({
        top: topK(r.logits, k, prompt.classNames),
        logits: Array.from(r.logits),
        ...(r.canvas ? { canvas: canvasDataUrl(r.canvas) } : {}),
      }));
      return { prompt: id, predictions };
    } finally {
      if (reply.raw.writableFinished) reply.raw.off('close', onClose);
    }
  });

  await registry.start();
  return app;
}

/** {@link createPromptServer}, listening; closes on SIGINT/SIGTERM. Resolves with the instance and its URL. */
export async function startPromptServer(
  options: PromptServerOptions & { readonly port?: number; readonly address?: string },
): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createPromptServer(options);
  const url = await app.listen({ host: options.address ?? '127.0.0.1', port: options.port ?? 8080 });
  let stopping = false;
  const stop = () => {
    if (stopping) return; // a terminal's Ctrl-C can arrive twice (from the shell and from a wrapper)
    stopping = true;
    void app.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { app, url };
}

export type { FastifyInstance };
