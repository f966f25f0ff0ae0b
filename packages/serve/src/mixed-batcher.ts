import * as tf from '@tensorflow/tfjs';
import { ConfigError, NonFiniteError, PromptKdError, type ApplyOptions, type ClassifierModel } from '@promptkd/core';
import type { ServedPrompt } from './served-prompt.js';

/** Prompts whose rows can share a host forward: on the host's running statistics, or each on its own. */
const bnKind = (p: ServedPrompt): 'running' | 'own' => (p.bnOverride ? 'own' : 'running');

/** Rows of `size` values: row i is `rows[i]`'s `values(prompt)` (a copy per row; no kernel call). */
function perRow(rows: readonly ServedPrompt[], size: number, values: (p: ServedPrompt) => Float32Array): Float32Array {
  const out = new Float32Array(rows.length * size);
  rows.forEach((p, i) => out.set(values(p), i * size));
  return out;
}

/**
 * The host's options for one forward over rows of these prompts (row order): eval mode, and for prompts with their own
 * BN statistics a per-row `bnOverride` — each layer's statistics of the row's prompt, `[N, C]` (or `[C]` when every row
 * has the same prompt). Call inside a tidy.
 */
function hostOptions(rows: readonly ServedPrompt[]): ApplyOptions {
  const first = rows[0]!;
  if (!first.bnOverrideData || rows.every((p) => p === first)) return first.hostOptions();
  const bnOverride = Object.fromEntries(
    Object.entries(first.bnOverrideData).map(([layer, { mean }]) => {
      const stat = (which: 'mean' | 'variance') => tf.tensor2d(perRow(rows, mean.length, (p) => p.bnOverrideData![layer]![which]), [rows.length, mean.length]);
      return [layer, { mean: stat('mean'), variance: stat('variance') }];
    }),
  );
  return { training: false, bnOverride };
}

/** Dynamic batching settings of {@link MixedBatcher}. */
export interface BatchingOptions {
  /** Most images in one host forward (default 32). 1 turns batching off: one request per forward. */
  readonly maxBatchSize?: number;
  /** Longest a request waits for others to join its batch, in ms (default 2). */
  readonly maxWaitMs?: number;
  /** Most images waiting at once; more are refused with {@link ServerBusyError} (default 1024). */
  readonly maxQueuedImages?: number;
  /**
   * Longest a due batch waits while the server keeps accepting new connections, in ms (default 25; 0: never waits).
   * See {@link MixedBatcher.connectionAccepted}.
   */
  readonly acceptWindowMs?: number;
}

/** One request: `count` images of `prompt`'s task, `[count, H, W, C]` in [0,1] (the source dataset's image shape). */
export interface PredictJobInput {
  readonly prompt: ServedPrompt;
  readonly images: Float32Array;
  readonly count: number;
  /** Also return each image's prompted canvas. */
  readonly canvas?: boolean;
  /** Aborting (client gone) drops the request if it has not run yet; its result is discarded otherwise. */
  readonly signal?: AbortSignal;
}

/** One image's result: the source-task logits (host logits read through π) and, on request, the canvas. */
export interface RowResult {
  readonly logits: Float32Array;
  readonly canvas?: { readonly height: number; readonly width: number; readonly channels: number; readonly data: Float32Array };
}

/** What one host forward did (for metrics). */
export interface BatchInfo {
  readonly images: number;
  readonly requests: number;
  /** Distinct prompts in the batch. */
  readonly prompts: number;
  /** Host forwards run (one per canvas size and BN kind: the host's running statistics, or prompts' own). */
  readonly forwards: number;
  readonly seconds: number;
}

/** The queue is full. */
export class ServerBusyError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_BUSY', message, details);
  }
}

/** The request was aborted by its client before it ran. */
export class RequestAbortedError extends PromptKdError {
  constructor() {
    super('E_ABORTED', 'The client went away before its request ran.');
  }
}

interface Job extends PredictJobInput {
  readonly enqueuedAt: number;
  resolve(rows: RowResult[]): void;
  reject(error: unknown): void;
  onAbort?: () => void;
}

/**
 * Mixed-prompt dynamic batching over one frozen host. Requests for different prompts differ only in their canvas,
 * so a batch applies each prompt to its own images, stacks the canvases and runs ONE host forward (per canvas
 * size), then reads each prompt's label mapping π off its rows. Prompts whose canvas is the zero-padded image plus
 * a fixed pattern (KiOP's nested pads; checked at load) share their preprocessing and canvas ops across the batch:
 * one pad and one add of the prompts' patterns, row by row. The host runs in eval mode (batch norm on running statistics), so every row depends on its own image
 * only and the result equals the one-request-at-a-time path exactly (tested bit for bit). Prompts trained with the
 * host's batch norm on batch statistics carry their own BN statistics (`bnMode: 'promptStatistics'`): their rows share
 * one eval-mode host forward in which every row is normalised with its own prompt's statistics (per-row `bnOverride`),
 * and stay as exact.
 *
 * A batch closes when it holds `maxBatchSize` images or its oldest request has waited `maxWaitMs`. A batch's forward
 * holds the event loop (~100 ms for 16 images on a ResNet-18 at 128 px), and libuv accepts one connection per loop
 * turn, so clients that connect while batches run would wait a whole batch each (32 new connections: ~3 s). The
 * server reports each accepted connection ({@link MixedBatcher.connectionAccepted}); a batch that is due then lets the
 * loop turn again while connections keep arriving, for at most `acceptWindowMs`, and their requests can join it
 * (32 connections: ~20 ms instead of ~3 s). A request
 * whose client aborted is dropped before it runs; a request whose row is not finite fails alone
 * ({@link NonFiniteError}); if a whole batch throws, its requests are retried one at a time so one bad request
 * cannot fail the others.
 */
export class MixedBatcher {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly maxQueuedImages: number;
  readonly acceptWindowMs: number;
  private readonly queue: Job[] = [];
  private queuedImages = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private closed = false;
  /** A connection was accepted since the last flush check. */
  private accepted = false;
  /** When the due batch runs at the latest while connections keep arriving (ms, `performance.now()`). */
  private deferDeadline: number | undefined;

  constructor(
    private readonly host: ClassifierModel,
    options: BatchingOptions = {},
    private readonly onBatch?: (info: BatchInfo) => void,
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 32;
    this.maxWaitMs = options.maxWaitMs ?? 2;
    this.maxQueuedImages = options.maxQueuedImages ?? 1024;
    this.acceptWindowMs = options.acceptWindowMs ?? 25;
    const checks = [
      ['maxBatchSize', this.maxBatchSize, 1, true],
      ['maxWaitMs', this.maxWaitMs, 0, false],
      ['maxQueuedImages', this.maxQueuedImages, 1, true],
      ['acceptWindowMs', this.acceptWindowMs, 0, false],
    ] as const;
    for (const [field, v, min, integer] of checks) {
      if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
        throw new ConfigError(`Batching option '${field}' must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${v}.`, { field, value: v });
      }
    }
  }

  /** Images waiting for a batch. */
  get pending(): number {
    return this.queuedImages;
  }

  /** Queues a request; resolves with one {@link RowResult} per image. */
  predict(input: PredictJobInput): Promise<RowResult[]> {
    if (this.closed) return Promise.reject(new ServerBusyError('The server is shutting down.'));
    if (input.signal?.aborted) return Promise.reject(new RequestAbortedError());
    if (this.queuedImages + input.count > this.maxQueuedImages) {
      return Promise.reject(
        new ServerBusyError(`${this.queuedImages} images are already waiting (limit ${this.maxQueuedImages}); retry shortly.`, {
          pending: this.queuedImages,
          limit: this.maxQueuedImages,
        }),
      );
    }
    return new Promise<RowResult[]>((resolve, reject) => {
      const job: Job = { ...input, enqueuedAt: performance.now(), resolve, reject };
      input.prompt.acquire();
      if (input.signal) {
        job.onAbort = () => {
          const i = this.queue.indexOf(job);
          if (i >= 0) {
            this.queue.splice(i, 1);
            this.queuedImages -= job.count;
            this.settle(job, () => reject(new RequestAbortedError()));
          }
        };
        input.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.queuedImages += job.count;
      this.schedule();
    });
  }

  /**
   * The server accepted a connection: a due batch waits one more loop turn (at most `acceptWindowMs` in all) so that
   * libuv, which accepts one connection per turn, can accept the others waiting and read their requests.
   */
  connectionAccepted(): void {
    this.accepted = true;
  }

  /** Rejects every waiting request and accepts no more. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(new ServerBusyError('The server is shutting down.')));
    this.queuedImages = 0;
  }

  private schedule(): void {
    if (this.immediate || this.queue.length === 0) return;
    const oldest = this.queue[0] as Job;
    const wait = this.maxBatchSize === 1 || this.queuedImages >= this.maxBatchSize ? 0 : oldest.enqueuedAt + this.maxWaitMs - performance.now();
    if (wait <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      // setImmediate: requests that arrived with this one are parsed first and can join the batch
      this.immediate = setImmediate(() => this.flush());
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
    }
  }

  private flush(): void {
    this.immediate = undefined;
    const now = performance.now();
    this.deferDeadline ??= now + this.acceptWindowMs;
    if (this.accepted && now < this.deferDeadline) {
      this.accepted = false;
      this.immediate = setImmediate(() => this.flush());
      return;
    }
    this.accepted = false;
    this.deferDeadline = undefined;
    const jobs: Job[] = [];
    let images = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Job;
      if (jobs.length > 0 && images + next.count > this.maxBatchSize) break;
      this.queue.shift();
      this.queuedImages -= next.count;
      images += next.count;
      jobs.push(next);
    }
    if (jobs.length > 0) this.run(jobs);
    this.schedule();
  }

  private settle(job: Job, action: () => void): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    job.prompt.release();
    action();
  }

  private run(jobs: Job[]): void {
    const t0 = performance.now();
    let results: (RowResult[] | Error)[];
    let forwards: number;
    try {
      ({ results, forwards } = this.forward(jobs));
    } catch (batchError) {
      if (jobs.length === 1) {
        results = [batchError instanceof Error ? batchError : new Error(String(batchError))];
        forwards = 1;
      } else {
        // isolate: one request at a time, so only the one that fails gets the error
        results = [];
        forwards = 0;
        for (const job of jobs) {
          try {
            const one = this.forward([job]);
            results.push(one.results[0] as RowResult[] | Error);
            forwards += one.forwards;
          } catch (e) {
            results.push(e instanceof Error ? e : new Error(String(e)));
          }
        }
      }
    }
    this.onBatch?.({
      images: jobs.reduce((a, j) => a + j.count, 0),
      requests: jobs.length,
      prompts: new Set(jobs.map((j) => j.prompt)).size,
      forwards,
      seconds: (performance.now() - t0) / 1000,
    });
    jobs.forEach((job, i) => {
      const r = results[i] as RowResult[] | Error;
      this.settle(job, () => (r instanceof Error ? job.reject(r) : job.resolve(r)));
    });
  }

  /**
   * Groups rows that can share their canvas computation (additive prompts with the same preprocessing and canvas
   * geometry and BN kind: one preprocessing, one pad and one add of the rows' patterns; any other
   * prompt: its own group), then runs one host forward per canvas size and BN kind (running statistics, or each row
   * its prompt's own) and reads the rows through each π.
   */
  private forward(jobs: readonly Job[]): { results: (RowResult[] | Error)[]; forwards: number } {
    const groups = new Map<unknown, Job[]>();
    for (const job of jobs) {
      const p = job.prompt;
      const key = p.additive ? `${p.preprocessKey}|${p.canvasShape.join('x')}|${p.additive.top},${p.additive.left}|${bnKind(p)}` : p;
      const list = groups.get(key);
      if (list) list.push(job);
      else groups.set(key, [job]);
    }
    // row bookkeeping: each job's first row in its host forward and in its canvas group
    const where = new Map<Job, { forward: string; row: number; group: Job[]; groupRow: number }>();
    const canvasData = new Map<Job[], Float32Array>();
    const logitsByForward = new Map<string, { data: Float32Array; k: number }>();
    tf.tidy(() => {
      // one host forward per canvas size and BN kind (the host's running statistics, or each row its prompt's own)
      const forwards = new Map<string, tf.Tensor4D[]>();
      const rowPrompts = new Map<string, ServedPrompt[]>();
      const rowsIn = new Map<string, number>();
      for (const list of groups.values()) {
        const first = list[0]!.prompt;
        const [h, w, c] = first.imageShape;
        const n = list.reduce((a, j) => a + j.count, 0);
        const pixels = new Float32Array(n * h * w * c);
        const fkey = `${first.canvasShape.join('x')}|${bnKind(first)}`;
        const base = rowsIn.get(fkey) ?? 0;
        const rows = list.flatMap((j) => new Array<ServedPrompt>(j.count).fill(j.prompt));
        rowPrompts.set(fkey, [...(rowPrompts.get(fkey) ?? []), ...rows]);
        let groupRow = 0;
        for (const job of list) {
          pixels.set(job.images, groupRow * h * w * c);
          where.set(job, { forward: fkey, row: base + groupRow, group: list, groupRow });
          groupRow += job.count;
        }
        const x = first.preprocess(tf.tensor4d(pixels, [n, h, w, c]));
        let canvas: tf.Tensor4D;
        if (first.additive) {
          const [sh, sw, sc] = first.canvasShape;
          const { top, left } = first.additive;
          const padded = tf.pad(x, [[0, 0], [top, sh - x.shape[1] - top], [left, sw - x.shape[2] - left], [0, 0]]);
          // each row's pattern, copied in JS (a gather of the patterns cost about as much as the host forward)
          canvas = tf.add(padded, tf.tensor4d(perRow(rows, sh * sw * sc, (p) => p.additive!.patternData), [n, sh, sw, sc]));
        } else {
          canvas = first.canvas(x);
        }
        if (list.some((j) => j.canvas)) canvasData.set(list, canvas.dataSync() as Float32Array);
        forwards.set(fkey, [...(forwards.get(fkey) ?? []), canvas]);
        rowsIn.set(fkey, base + n);
      }
      for (const [key, canvases] of forwards) {
        const stacked = canvases.length === 1 ? (canvases[0] as tf.Tensor4D) : tf.concat(canvases, 0);
        const logits = this.host.apply(stacked, hostOptions(rowPrompts.get(key)!)).logits;
        logitsByForward.set(key, { data: logits.dataSync() as Float32Array, k: logits.shape[1] });
      }
    });
    const results = jobs.map((job): RowResult[] | Error => {
      const at = where.get(job)!;
      const { data, k } = logitsByForward.get(at.forward)!;
      const pi = job.prompt.mapping;
      const [ch, cw, cc] = job.prompt.canvasShape;
      const rows: RowResult[] = [];
      for (let r = 0; r < job.count; r++) {
        const logits = new Float32Array(pi.length);
        const base = (at.row + r) * k;
        for (let j = 0; j < pi.length; j++) logits[j] = data[base + (pi[j] as number)] as number;
        if (!logits.every(Number.isFinite)) {
          return new NonFiniteError(
            `Image ${r} of this request gave non-finite logits through prompt '${job.prompt.id}'; nothing else was affected.`,
            { image: r, prompt: job.prompt.id },
          );
        }
        const canvas = job.canvas
          ? { height: ch, width: cw, channels: cc, data: canvasData.get(at.group)!.slice((at.groupRow + r) * ch * cw * cc, (at.groupRow + r + 1) * ch * cw * cc) }
          : undefined;
        rows.push(canvas ? { logits, canvas } : { logits });
      }
      return rows;
    });
    return { results, forwards: logitsByForward.size };
  }
}
