import { z } from 'zod';
import type { Normalization } from '@promptkd/core';
import type { PromptArtifactInput, StoredTensor } from '@promptkd/visual-prompt';

/**
 * What a prompt artifact needs so that a server can run it for users: which frozen host it was trained on (by the
 * SHA-256 of the host's weights file), the source task it answers (dataset, image shape, class names, which label
 * mapping and how many prompt segments), and the accuracy the run measured. Stored in the artifact metadata as
 * `extra.serve` (see {@link servablePromptInput}); `promptkd kiop run` writes it.
 */
export const servingMetadataSchema = z.object({
  version: z.literal(1),
  host: z.object({
    /** Model registry key of the host (`bnCnn`, `resnet18`, ...). */
    arch: z.string().min(1),
    /** Dataset the host was trained on (Model A's task). */
    dataset: z.string().optional(),
    /** SHA-256 (hex) of the host's `.safetensors` file: the host identity the server checks. */
    weightsSha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** K_host. */
    numClasses: z.number().int().positive(),
    inputChannels: z.number().int().positive(),
    /**
     * How the host's batch norm runs for this prompt. `eval`: on the host's running statistics (the prompt trained so).
     * `promptStatistics`: the prompt trained with the host's BN on batch statistics (reference-code fidelity,
     * `fidelity.hostBnTrainMode`), and the artifact carries the host's BN statistics over the prompted images the prompt
     * trained on (`bn.<layer>.mean` / `bn.<layer>.variance` tensors): the server runs the host in eval mode with them.
     * `train`: batch statistics and no prompt statistics: the prediction would depend on the batch, so it is not served.
     */
    bnMode: z.enum(['eval', 'train', 'promptStatistics']),
  }),
  /** With `bnMode: 'promptStatistics'`: how the statistics were measured (the tensors are in the safetensors file). */
  bnStatistics: z
    .object({
      /** BN layer names of the host, in forward order. */
      layers: z.array(z.string().min(1)).min(1),
      /** Prompted images the statistics are over. */
      images: z.number().int().positive(),
      /** Where the images came from (`synthetic bank B`, `real training images`). */
      data: z.string(),
    })
    .optional(),
  source: z.object({
    /** The source task's dataset key (`fashionMnist`, ...): names the test-time preprocessing. */
    dataset: z.string().min(1),
    /** The preprocessing (a key of `preprocessRegistry`), applied after the upload is brought to `imageShape`. */
    preprocess: z.string().min(1),
    /** [H, W, C] of the source dataset's images (what an upload is resized to). */
    imageShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().min(1).max(4)]),
    /** K_source class names; index = class. */
    classNames: z.array(z.string()).min(1),
    /** Key of the label mapping π in the artifact's `labelMappings`. */
    labelMapping: z.string().min(1),
    /** How many prompt segments the source task uses (KiOP: 2 for SMB = LM∘f_A∘PP∘PC, 3 for SMC). */
    segments: z.number().int().positive(),
    /** The accuracy the run recorded for this task (Acc.B), on `images` test images. */
    accuracy: z
      .object({ name: z.string(), value: z.number().min(0).max(1), images: z.number().int().nonnegative() })
      .optional(),
    /**
     * With `bnMode: 'promptStatistics'`: the same accuracy measured as the server runs the prompt (host in eval mode
     * on the prompt's statistics); `accuracy` is the run's batch-statistics number.
     */
    servedAccuracy: z
      .object({ name: z.string(), value: z.number().min(0).max(1), images: z.number().int().nonnegative() })
      .optional(),
  }),
  /** Where the prompt came from (free-form: run folder, variant, seed, preset). */
  run: z.record(z.string(), z.unknown()).optional(),
});

/** The `extra.serve` block of a servable prompt artifact. */
export type ServingMetadata = z.infer<typeof servingMetadataSchema>;

/** Inputs of {@link servablePromptInput}. */
export interface ServablePromptOptions {
  readonly host: {
    /** Model registry key (the host model's `name`). */
    readonly arch: string;
    readonly dataset?: string;
    /** SHA-256 (hex) of the host's weights file ({@link sha256File}). */
    readonly weightsSha256: string;
    readonly numClasses: number;
    readonly inputChannels: number;
    readonly normalization?: Normalization;
    /** Whether the host's BN ran on batch statistics during training (KiOP `fidelity.hostBnTrainMode`). */
    readonly bnTrainMode: boolean;
  };
  /**
   * Prompt-specific BN statistics of the host (`bnPopulationStatistics` of @promptkd/models over the prompted
   * training images; KiOP's `trainKiop` result `promptBnStatistics`). With `bnTrainMode`, they make the prompt servable
   * (`bnMode: 'promptStatistics'`); without them a batch-statistics prompt is written as `bnMode: 'train'` and refused.
   */
  readonly bnStatistics?: {
    readonly layers: Readonly<Record<string, { readonly mean: Float32Array; readonly variance: Float32Array }>>;
    readonly images: number;
    readonly data: string;
  };
  readonly source: {
    readonly dataset: string;
    readonly imageShape: readonly [number, number, number];
    readonly classNames: readonly string[];
    /** π: source class j reads host logit π[j]. */
    readonly labelMapping: readonly number[];
    readonly segments: number;
    /** Preprocessing key (default `kiop`: the KiOP test transform of `dataset`). */
    readonly preprocess?: string;
    readonly accuracy?: { readonly name: string; readonly value: number; readonly images: number };
    /** The accuracy with the host in eval mode on `bnStatistics` (what the server delivers). */
    readonly servedAccuracy?: { readonly name: string; readonly value: number; readonly images: number };
  };
  readonly description?: string;
  readonly run?: Readonly<Record<string, unknown>>;
}

/**
 * The {@link PromptArtifactInput} (for `savePromptArtifact`) of a prompt a server can load: host info, the one
 * label mapping (named after the source dataset) and `extra.serve` ({@link ServingMetadata}).
 */
export function servablePromptInput(options: ServablePromptOptions): PromptArtifactInput {
  const { host, source } = options;
  const stats = host.bnTrainMode ? options.bnStatistics : undefined;
  const serve: ServingMetadata = servingMetadataSchema.parse({
    version: 1,
    host: {
      arch: host.arch,
      ...(host.dataset !== undefined ? { dataset: host.dataset } : {}),
      weightsSha256: host.weightsSha256,
      numClasses: host.numClasses,
      inputChannels: host.inputChannels,
      bnMode: !host.bnTrainMode ? 'eval' : stats ? 'promptStatistics' : 'train',
    },
    ...(stats ? { bnStatistics: { layers: Object.keys(stats.layers), images: stats.images, data: stats.data } } : {}),
    source: {
      dataset: source.dataset,
      preprocess: source.preprocess ?? 'kiop',
      imageShape: [...source.imageShape],
      classNames: [...source.classNames],
      labelMapping: source.dataset,
      segments: source.segments,
      ...(source.accuracy ? { accuracy: source.accuracy } : {}),
      ...(stats && source.servedAccuracy ? { servedAccuracy: source.servedAccuracy } : {}),
    },
    ...(options.run ? { run: options.run } : {}),
  });
  return {
    host: {
      name: host.dataset ? `${host.dataset}-${host.arch}` : host.arch,
      numClasses: host.numClasses,
      ...(host.normalization ? { normalization: host.normalization } : {}),
    },
    labelMappings: { [source.dataset]: [...source.labelMapping] },
    description: options.description ?? `prompt for ${source.dataset} on a ${host.dataset ?? ''} ${host.arch} host`.replace(/ +/g, ' '),
    extra: { serve },
    ...(stats ? { extraTensors: bnStatisticsTensors(stats.layers) } : {}),
  };
}

/** Name of a BN statistics tensor in a servable artifact: `bn.<layer>.mean` / `bn.<layer>.variance`. */
export function bnTensorName(layer: string, which: 'mean' | 'variance'): string {
  return `bn.${layer}.${which}`;
}

function bnStatisticsTensors(layers: NonNullable<ServablePromptOptions['bnStatistics']>['layers']): Record<string, StoredTensor> {
  const out: Record<string, StoredTensor> = {};
  for (const [layer, s] of Object.entries(layers)) {
    out[bnTensorName(layer, 'mean')] = { shape: [s.mean.length], data: s.mean };
    out[bnTensorName(layer, 'variance')] = { shape: [s.variance.length], data: s.variance };
  }
  return out;
}

/** SHA-256 (hex) of a file's bytes: the host identity recorded in servable prompts. */
export async function sha256File(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
