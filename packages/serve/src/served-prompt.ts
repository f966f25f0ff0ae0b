import * as tf from '@tensorflow/tfjs';
import { CheckpointError, type ApplyOptions, type BatchNormStatistics } from '@promptkd/core';
import type { Transform } from '@promptkd/datasets';
import { SegmentedPrompt, type LoadedPromptArtifact, type ParameterCount, type VisualPrompt } from '@promptkd/visual-prompt';
import type { LoadedHost } from './host.js';
import { PREPROCESS_RNG, preprocessRegistry } from './preprocess.js';
import { bnTensorName, servingMetadataSchema, type ServingMetadata } from './servable.js';

/** What `GET /v1/prompts` tells about a prompt. */
export interface PromptSummary {
  readonly id: string;
  readonly sourceDataset: string;
  readonly classNames: readonly string[];
  /** Canvas sides the image goes through: [image, after segment 1, …] (KiOP: 32 → 36 → 48). */
  readonly canvasSizes: readonly number[];
  /** [H, W, C] of the images the prompt takes (uploads are resized to it). */
  readonly imageShape: readonly [number, number, number];
  readonly parameterCount: ParameterCount;
  /** Accuracy recorded by the run that trained the prompt (Acc.B), when known. */
  readonly accuracy?: { readonly name: string; readonly value: number; readonly images: number };
  /** How the host's BN runs for this prompt: `eval` (running statistics) or `promptStatistics` (its own). */
  readonly bnMode: 'eval' | 'promptStatistics';
  /** For `promptStatistics`: the accuracy the run measured the way the server runs it (the host in eval mode on them). */
  readonly servedAccuracy?: { readonly name: string; readonly value: number; readonly images: number };
  readonly host: { readonly arch: string; readonly dataset?: string };
  readonly description?: string;
  readonly createdAt: string;
}

/**
 * A prompt whose canvas is the zero-padded image plus a fixed pattern: `canvas(x) = pad(x) + P` bit for bit (KiOP's
 * nested expansive pads are: the rings are added where the padded image is exactly 0). Such prompts share one pad
 * and one add for a whole mixed batch.
 */
export interface AdditiveCanvas {
  /** P = canvas(0), `[S, S, C]` row-major (a batch copies each row's pattern: no kernel call). */
  readonly patternData: Float32Array;
  /** Where the image's top-left pixel lands in the canvas. */
  readonly top: number;
  readonly left: number;
}

function refuse(reason: string, message: string, details: Record<string, unknown> = {}): CheckpointError {
  return new CheckpointError(message, { ...details, reason });
}

/**
 * A prompt artifact checked against the server's frozen host and ready to run: its preprocessing, its prompt
 * (applied up to `segments`) and its label mapping π as host-logit indices.
 */
export class ServedPrompt {
  readonly serving: ServingMetadata;
  /** π: source class j reads host logit `mapping[j]`. */
  readonly mapping: Int32Array;
  /** [H, W, C] of the canvas the host sees. */
  readonly canvasShape: readonly [number, number, number];
  private readonly transform: Transform;
  /** Set when the prompt is additive after zero-padding (checked at load; see {@link AdditiveCanvas}). */
  additive: AdditiveCanvas | undefined;
  /** Prompts with the same key share one preprocessing call in a batch: preprocessing, dataset, image shape. */
  readonly preprocessKey: string;
  /**
   * The host's BN statistics for this prompt (bnMode `promptStatistics`), by layer; undefined: the running statistics.
   * Rows of such prompts share one host forward, each row normalised with its own prompt's statistics.
   */
  bnOverride: Readonly<Record<string, BatchNormStatistics>> | undefined;
  /** {@link bnOverride}'s values by layer, for building a mixed batch's per-row statistics without kernel calls. */
  bnOverrideData: Readonly<Record<string, { readonly mean: Float32Array; readonly variance: Float32Array }>> | undefined;

  private constructor(
    readonly id: string,
    readonly file: string,
    readonly artifact: LoadedPromptArtifact,
    serving: ServingMetadata,
    transform: Transform,
  ) {
    this.serving = serving;
    this.transform = transform;
    this.preprocessKey = `${serving.source.preprocess}|${serving.source.dataset}|${serving.source.imageShape.join('x')}`;
    const pi = artifact.metadata.labelMappings?.[serving.source.labelMapping] ?? [];
    this.mapping = Int32Array.from(pi);
    const side = this.prompt instanceof SegmentedPrompt ? this.prompt.outputSizeUpTo(serving.source.segments) : this.prompt.outputShape[0];
    const width = this.prompt instanceof SegmentedPrompt ? side : this.prompt.outputShape[1];
    this.canvasShape = [side, width, this.prompt.outputShape[2]];
  }

  get prompt(): VisualPrompt {
    return this.artifact.prompt;
  }

  /** [H, W, C] of the images this prompt's task takes. */
  get imageShape(): readonly [number, number, number] {
    return this.serving.source.imageShape;
  }

  get classNames(): readonly string[] {
    return this.serving.source.classNames;
  }

  /**
   * Checks a loaded artifact against the host and builds the served prompt. Refusals are
   * {@link CheckpointError}s whose `details.reason` is one of `not-servable | bad-serving-metadata | host-mismatch |
   * host-bn-train-mode | bad-bn-statistics | bad-label-mapping | bad-segments | input-size`; the message says what differs.
   * The caller disposes `artifact.prompt` when this throws.
   */
  static create(id: string, file: string, artifact: LoadedPromptArtifact, host: LoadedHost): ServedPrompt {
    const raw = artifact.metadata.extra?.serve;
    if (raw === undefined) {
      throw refuse(
        'not-servable',
        `${file}: the artifact has no serving metadata (extra.serve: host identity, source task, label mapping). ` +
          'Prompts written by `promptkd kiop run` have it; for your own, save with servablePromptInput() from @promptkd/serve.',
        { file },
      );
    }
    const parsed = servingMetadataSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw refuse('bad-serving-metadata', `${file}: extra.serve.${issue?.path.join('.') ?? ''} is invalid: ${issue?.message ?? 'bad value'}.`, { file });
    }
    const serve = parsed.data;
    const m = host.model;
    if (serve.host.weightsSha256 !== host.sha256) {
      throw refuse(
        'host-mismatch',
        `${file}: trained for a ${serve.host.dataset ?? ''} ${serve.host.arch} host with weights sha256 ${serve.host.weightsSha256.slice(0, 16)}…, ` +
          `but this server runs ${host.file} (sha256 ${host.sha256.slice(0, 16)}…). Serve it with the host it was trained on.`,
        { file, expected: serve.host.weightsSha256, actual: host.sha256 },
      );
    }
    if (serve.host.bnMode === 'train') {
      throw refuse(
        'host-bn-train-mode',
        `${file}: the prompt was trained with the host's batch norm on batch statistics (fidelity.hostBnTrainMode) and ` +
          'the artifact carries no prompt-specific BN statistics, so its predictions would depend on the batch: it cannot be served as is. Re-run it ' +
          'with `promptkd kiop run` (which measures the statistics and writes bnMode promptStatistics), or save it with ' +
          "servablePromptInput({bnStatistics}) from bnPopulationStatistics of @promptkd/models, or train with the host's BN in eval mode.",
        { file },
      );
    }
    if (serve.host.numClasses !== m.numClasses || serve.host.inputChannels !== m.inputChannels) {
      throw refuse(
        'host-mismatch',
        `${file}: expects a host with ${serve.host.numClasses} classes and ${serve.host.inputChannels} input channels; ` +
          `the server's has ${m.numClasses} and ${m.inputChannels}.`,
        { file },
      );
    }
    const pi = artifact.metadata.labelMappings?.[serve.source.labelMapping];
    if (!pi || pi.length !== serve.source.classNames.length || pi.some((h) => h >= m.numClasses)) {
      throw refuse(
        'bad-label-mapping',
        `${file}: label mapping '${serve.source.labelMapping}' must list one host class in [0, ${m.numClasses}) for each of the ` +
          `${serve.source.classNames.length} source classes; got ${pi ? `${pi.length} entries` : 'none'}.`,
        { file },
      );
    }
    const prompt = artifact.prompt;
    if (prompt instanceof SegmentedPrompt ? serve.source.segments > prompt.numSegments : serve.source.segments !== 1) {
      throw refuse('bad-segments', `${file}: the task uses ${serve.source.segments} prompt segment(s); the prompt has fewer.`, { file });
    }
    if (!preprocessRegistry.has(serve.source.preprocess)) {
      throw refuse('input-size', `${file}: unknown preprocessing '${serve.source.preprocess}' (known: ${preprocessRegistry.keys().join(', ')}).`, { file });
    }
    let transform: Transform;
    try {
      transform = preprocessRegistry.get(serve.source.preprocess).create(serve.source.dataset);
    } catch (e) {
      throw refuse('input-size', `${file}: no '${serve.source.preprocess}' preprocessing for dataset '${serve.source.dataset}': ${(e as Error).message}`, { file });
    }
    const served = new ServedPrompt(id, file, artifact, serve, transform);
    if (serve.host.bnMode === 'promptStatistics') served.loadBnStatistics(host);
    try {
      served.dryRun(host);
      served.additive = served.detectAdditive();
    } catch (e) {
      served.disposeBnStatistics();
      throw e;
    }
    return served;
  }

  /**
   * Reads the prompt's BN statistics (`bn.<layer>.mean|variance`) for every BN layer of the host: present, one value
   * per channel, variances ≥ 0; refuses with reason `bad-bn-statistics` otherwise.
   */
  private loadBnStatistics(host: LoadedHost): void {
    const bad = (why: string) =>
      refuse('bad-bn-statistics', `${this.file}: bnMode promptStatistics, but ${why}. Re-export the prompt from its run.`, { file: this.file });
    const layers = [...host.model.namedVariables()]
      .filter(([n]) => n.endsWith('.running_mean'))
      .map(([n, v]) => ({ layer: n.slice(0, -'.running_mean'.length), channels: v.size }));
    const listed = this.serving.bnStatistics?.layers ?? [];
    if (listed.length !== layers.length || layers.some((l) => !listed.includes(l.layer))) {
      throw bad(`its statistics are for BN layers [${listed.join(', ')}] and the host has [${layers.map((l) => l.layer).join(', ')}]`);
    }
    const arrays: { layer: string; mean: Float32Array; variance: Float32Array }[] = [];
    for (const { layer, channels } of layers) {
      const mean = this.artifact.extraTensors[bnTensorName(layer, 'mean')];
      const variance = this.artifact.extraTensors[bnTensorName(layer, 'variance')];
      if (!mean || !variance) throw bad(`tensor ${bnTensorName(layer, mean ? 'variance' : 'mean')} is missing`);
      if (mean.data.length !== channels || variance.data.length !== channels) {
        throw bad(`layer '${layer}' has ${channels} channels and its statistics have ${mean.data.length} / ${variance.data.length} values`);
      }
      if (variance.data.some((v) => v < 0)) throw bad(`layer '${layer}' has a negative variance`);
      arrays.push({ layer, mean: mean.data, variance: variance.data });
    }
    this.bnOverride = Object.fromEntries(arrays.map((a) => [a.layer, { mean: tf.tensor1d(a.mean), variance: tf.tensor1d(a.variance) }]));
    this.bnOverrideData = Object.fromEntries(arrays.map((a) => [a.layer, { mean: a.mean.slice(), variance: a.variance.slice() }]));
  }

  private disposeBnStatistics(): void {
    if (this.bnOverride) tf.dispose(Object.values(this.bnOverride).flatMap((s) => [s.mean, s.variance]));
    this.bnOverride = undefined;
    this.bnOverrideData = undefined;
  }

  /** How the host runs for this prompt: eval mode, on the prompt's BN statistics when it has them. */
  hostOptions(): ApplyOptions {
    return this.bnOverride ? { training: false, bnOverride: this.bnOverride } : { training: false };
  }

  /** One zero image through preprocessing, prompt and host: refuses sizes that do not chain. */
  private dryRun(host: LoadedHost): void {
    const [h, w, c] = this.imageShape;
    try {
      tf.tidy(() => {
        const x = this.preprocess(tf.zeros([1, h, w, c]) as tf.Tensor4D);
        const logits = host.model.apply(this.canvas(x), this.hostOptions()).logits;
        if (logits.shape[1] !== host.model.numClasses) throw new Error(`host returned ${logits.shape[1]} logits`);
      });
    } catch (e) {
      throw refuse(
        'input-size',
        `${this.file}: images of [${this.imageShape.join(', ')}] do not chain through preprocessing '${this.serving.source.preprocess}' ` +
          `(prompt input [${this.prompt.inputShape.join(', ')}], canvas [${this.canvasShape.join(', ')}]) and the host: ${(e as Error).message}`,
        { file: this.file },
      );
    }
  }

  /**
   * Finds out whether `canvas(x) = pad(x) + canvas(0)` holds exactly: the image must land unchanged in one window of
   * the canvas (probed with an all-ones image) and two random images must give the same bits both ways.
   */
  private detectAdditive(): AdditiveCanvas | undefined {
    const [h, w, c] = this.imageShape;
    return tf.tidy(() => {
      const x0 = this.preprocess(tf.zeros([1, h, w, c]) as tf.Tensor4D);
      const [, xh, xw, xc] = x0.shape;
      const [sh, sw, sc] = this.canvasShape;
      if (xc !== sc) return undefined;
      const zero = this.canvas(tf.zeros([1, xh, xw, xc]) as tf.Tensor4D);
      const diff = tf.sub(this.canvas(tf.ones([1, xh, xw, xc]) as tf.Tensor4D), zero).dataSync();
      let top = -1;
      let left = -1;
      for (let i = 0; i < diff.length && top < 0; i++) {
        if (diff[i] !== 0) {
          top = Math.floor(i / (sw * sc));
          left = Math.floor((i % (sw * sc)) / sc);
        }
      }
      if (top < 0 || top + xh > sh || left + xw > sw) return undefined;
      for (let y = 0; y < sh; y++) {
        for (let x = 0; x < sw; x++) {
          const inside = y >= top && y < top + xh && x >= left && x < left + xw;
          for (let k = 0; k < sc; k++) if (diff[(y * sw + x) * sc + k] !== (inside ? 1 : 0)) return undefined;
        }
      }
      const pattern = tf.squeeze(zero, [0]) as tf.Tensor3D;
      for (const seed of [1, 2]) {
        const r = tf.randomUniform([2, xh, xw, xc], 0, 1, 'float32', seed) as tf.Tensor4D;
        const direct = this.canvas(r).dataSync();
        const viaPad = tf.add(tf.pad(r, [[0, 0], [top, sh - xh - top], [left, sw - xw - left], [0, 0]]), pattern).dataSync();
        if (direct.some((v, i) => !Object.is(v, viaPad[i]))) return undefined;
      }
      return { patternData: Float32Array.from(pattern.dataSync()), top, left };
    });
  }

  /** Source-task images `[n, H, W, C]` in [0,1] → the prompt's input (the run's test-time transform). */
  preprocess(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.transform(images, PREPROCESS_RNG));
  }

  /** The prompted canvas of prompt inputs: segments 1..`segments` (KiOP SMB: PP∘PC). */
  canvas(x: tf.Tensor4D): tf.Tensor4D {
    const p = this.prompt;
    return p instanceof SegmentedPrompt ? p.apply(x, { upTo: this.serving.source.segments }) : p.apply(x);
  }

  summary(): PromptSummary {
    const meta = this.artifact.metadata;
    const sizes = this.prompt instanceof SegmentedPrompt
      ? this.prompt.sizes.slice(0, this.serving.source.segments + 1)
      : [this.prompt.inputShape[0], this.prompt.outputShape[0]];
    const s = this.serving.source;
    return {
      id: this.id,
      sourceDataset: s.dataset,
      classNames: s.classNames,
      canvasSizes: sizes,
      imageShape: s.imageShape,
      parameterCount: meta.parameterCount,
      ...(s.accuracy ? { accuracy: s.accuracy } : {}),
      bnMode: this.bnOverride ? 'promptStatistics' : 'eval',
      ...(this.bnOverride && s.servedAccuracy ? { servedAccuracy: s.servedAccuracy } : {}),
      host: { arch: this.serving.host.arch, ...(this.serving.host.dataset ? { dataset: this.serving.host.dataset } : {}) },
      ...(meta.description !== undefined ? { description: meta.description } : {}),
      createdAt: meta.createdAt,
    };
  }

  private users = 0;
  private retired = false;

  /** A queued request holds the prompt (so a reload cannot free it under the request). */
  acquire(): void {
    this.users++;
  }

  release(): void {
    this.users--;
    if (this.retired && this.users === 0) this.free();
  }

  /** Frees the prompt's tensors once no queued request holds it (a replaced or removed file). */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.users === 0) this.free();
  }

  private free(): void {
    this.prompt.dispose();
    this.disposeBnStatistics();
  }
}
