import * as tf from '@tensorflow/tfjs';
import type { ApplyOptions, ClassifierModel, ModelOutput, Normalization } from '@promptkd/core';
import { checkImageInput, createContext, normalizeInput, type ForwardContext } from './layers.js';
import { ParamStore, type ParamLayout } from './param-store.js';

/** Options every model config accepts. */
export interface BaseModelConfig {
  /** Number of classes K of the linear head. */
  readonly numClasses?: number;
  /** Input channels (3 for RGB; 1 for grey-scale). */
  readonly inputChannels?: number;
  /** Per-channel mean/std applied to the [0,1] NHWC input inside the model. Default: none. */
  readonly normalization?: Normalization;
  /** Seed of the weight initialisation (same seed ⇒ same weights). Default 0. */
  readonly seed?: number;
  /** Name recorded in checkpoints. Default: the registry key. */
  readonly name?: string;
}

/**
 * A model whose weights can be exchanged with PyTorch by name: every model in this package, and
 * anything else exposing `namedVariables()` (layouts default to `plain`).
 */
export interface TorchNamedModel {
  readonly name: string;
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  /** Layout of a parameter versus PyTorch (conv/linear transposes). */
  torchLayout?(name: string): ParamLayout;
  /** Non-trainable buffers (BN running stats) by name. */
  isBuffer?(name: string): boolean;
  /** Architecture config recorded in saved metadata. */
  readonly config?: object;
}

/**
 * Base of the functional classifiers: a {@link ParamStore}, input checking and normalisation,
 * a tidy forward and the tap bookkeeping. Subclasses implement `forward` and list `tapNames`.
 */
export abstract class FunctionalClassifier implements ClassifierModel, TorchNamedModel {
  readonly params = new ParamStore();
  /** Names accepted in `apply(x, {taps})`. */
  abstract readonly tapNames: readonly string[];
  /** Names of the classifier-head parameters (e.g. `fc.weight`, `fc.bias`); empty when there is no head. */
  headNames: readonly string[] = [];

  constructor(
    readonly name: string,
    readonly numClasses: number,
    readonly inputChannels: number,
    readonly normalization: Normalization | undefined,
    /** The full architecture config (stored in checkpoint metadata). */
    readonly config: object,
  ) {}

  protected abstract forward(x: tf.Tensor4D, ctx: ForwardContext, options: ApplyOptions): tf.Tensor2D;

  /** Checks the input before the forward (subclasses add size checks). */
  protected checkInput(x: tf.Tensor4D): void {
    checkImageInput(x, this.inputChannels, this.name);
  }

  apply(x: tf.Tensor4D, options: ApplyOptions = {}): ModelOutput {
    this.checkInput(x);
    const ctx = createContext(options, this.tapNames, this.name);
    return tf.tidy(() => {
      const logits = this.forward(normalizeInput(x, this.normalization), ctx, options);
      const out: { logits: tf.Tensor2D; taps: Record<string, tf.Tensor>; bn?: typeof ctx.bn } = { logits, taps: ctx.taps };
      if (ctx.bn) out.bn = ctx.bn;
      return out as unknown as tf.TensorContainer;
    }) as unknown as ModelOutput;
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.params.named();
  }

  trainableVariables(): tf.Variable[] {
    return this.params.trainableVariables();
  }

  setTrainable(trainable: boolean): void {
    this.params.setTrainable(trainable);
  }

  torchLayout(name: string): ParamLayout {
    return this.params.layout(name);
  }

  isBuffer(name: string): boolean {
    return this.params.isBuffer(name);
  }

  /** Re-seeds randomness used inside the forward (dropout). No-op for models without any. */
  reseed(_seed: number): void {}

  /** Number of parameters (buffers excluded), as `sum(p.numel() for p in model.parameters())`. */
  parameterCount(): number {
    return this.params.parameterCount();
  }

  dispose(): void {
    this.params.dispose();
  }
}
