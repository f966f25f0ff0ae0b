import * as tf from '@tensorflow/tfjs';
import { CheckpointError, ConfigError } from '@promptkd/core';
import { ExpansivePad } from './expansive-pad.js';
import {
  assertConfigObject,
  assertImageBatch,
  positiveInt,
  type ImageShape,
  type ParameterCount,
  type PromptPattern,
  type SegmentInfo,
  type VisualPrompt,
} from './prompt.js';

/** Config of {@link SegmentedPrompt}. */
export interface SegmentedPromptConfig {
  /**
   * Canvas sides `[s0, s1, …, sN]`, strictly increasing: `s0` is the image, segment i pads s(i−1)→s(i).
   * KiOP: `[32, 36, 128]` (Prompt Core 32→36, Prompt Periphery 36→128); triple: `[32, 36, 128, 224]`.
   */
  readonly sizes: readonly number[];
  /** Image channels (default 3). */
  readonly channels?: number;
}

/** Options of {@link SegmentedPrompt.apply}. */
export interface SegmentedApplyOptions {
  /** First segment to apply (1-based, default 1). The input must then be `sizes[from−1]` pixels. */
  readonly from?: number;
  /** Last segment to apply (1-based, inclusive, default N). `upTo: 1` applies the Prompt Core only. */
  readonly upTo?: number;
}

/**
 * A chain of N nested expansive padding segments (KiOP's Prompt Core inside the Prompt Periphery, and beyond):
 *
 *   P_{1..k}(x) = P_k(… P_2(P_1(x)))      with P_i = expansivePad(s(i−1) → s(i))
 *
 * Each segment can be applied alone ({@link SegmentedPrompt.segment}) or up to segment k
 * (`apply(x, {upTo: k})`), so one prompt serves several host-model input sizes (KiOP multi-model:
 * SMA uses `upTo: 1`, SMB `upTo: 2`, SMC `upTo: 3`). Segment i owns the variable `segment<i>.theta`;
 * {@link SegmentedPrompt.trainableVariables} can select segments, so a trainer decides which ones learn.
 *
 * Paper: Li et al., "Encapsulating Knowledge in One Prompt" (KiOP, ECCV 2024), §4.1 / Fig. 2.
 */
export class SegmentedPrompt implements VisualPrompt {
  readonly key = 'segmented';
  readonly config: Readonly<{ sizes: readonly number[]; channels: number }>;
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;
  private readonly parts: ExpansivePad[];
  private readonly frozen = new Set<number>();

  constructor(config: SegmentedPromptConfig) {
    assertConfigObject(config, 'segmented');
    const sizes = config.sizes;
    if (!Array.isArray(sizes) || sizes.length < 2) {
      throw new ConfigError(
        `Prompt 'segmented': 'sizes' must list at least two canvas sides [image, segment1, …], got ${JSON.stringify(sizes)}.`,
        { field: 'sizes', value: sizes },
      );
    }
    sizes.forEach((s, i) => positiveInt(s, `sizes[${i}]`, 'segmented'));
    for (let i = 1; i < sizes.length; i++) {
      if ((sizes[i] as number) <= (sizes[i - 1] as number)) {
        throw new ConfigError(
          `Prompt 'segmented': sizes must increase strictly (each segment pads outward), got ${JSON.stringify(sizes)}.`,
          { field: 'sizes', value: sizes },
        );
      }
    }
    const channels = positiveInt(config.channels ?? 3, 'channels', 'segmented');
    this.config = { sizes: [...sizes], channels };
    this.parts = [];
    for (let i = 1; i < sizes.length; i++) {
      this.parts.push(
        new ExpansivePad(
          { inputSize: sizes[i - 1] as number, outputSize: sizes[i] as number, channels },
          { variableName: `segment${i}.theta` },
        ),
      );
    }
    const first = sizes[0] as number;
    const last = sizes[sizes.length - 1] as number;
    this.inputShape = [first, first, channels];
    this.outputShape = [last, last, channels];
  }

  /** Number of segments N. */
  get numSegments(): number {
    return this.parts.length;
  }

  /** Canvas sides `[s0, …, sN]`. */
  get sizes(): readonly number[] {
    return this.config.sizes;
  }

  /** Segment i (1-based) as a standalone {@link ExpansivePad} sharing this prompt's variable. */
  segment(index: number): ExpansivePad {
    this.checkIndex(index, 'index');
    return this.parts[index - 1] as ExpansivePad;
  }

  /** Output side after applying segments 1..k. */
  outputSizeUpTo(k: number): number {
    this.checkIndex(k, 'upTo');
    return this.config.sizes[k] as number;
  }

  /** Applies segments `from..upTo` (1-based, inclusive; default all). */
  apply(x: tf.Tensor4D, options: SegmentedApplyOptions = {}): tf.Tensor4D {
    const from = options.from ?? 1;
    const upTo = options.upTo ?? this.parts.length;
    this.checkIndex(from, 'from');
    this.checkIndex(upTo, 'upTo');
    if (upTo < from) {
      throw new ConfigError(`SegmentedPrompt.apply: upTo (${upTo}) must be ≥ from (${from}).`, { field: 'upTo' });
    }
    const side = this.config.sizes[from - 1] as number;
    assertImageBatch(x, [side, side, this.config.channels], `segmented (from segment ${from})`);
    return tf.tidy(() => {
      let y = x;
      for (let i = from; i <= upTo; i++) y = (this.parts[i - 1] as ExpansivePad).apply(y);
      return y;
    });
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const p of this.parts) for (const [k, v] of p.namedVariables()) out.set(k, v);
    return out;
  }

  /**
   * Trainable variables, optionally only those of the given segments (1-based), e.g. `{segments: [2]}` to
   * train the periphery with the core fixed. Frozen segments ({@link setSegmentTrainable}) are never returned.
   */
  trainableVariables(options: { segments?: readonly number[] } = {}): tf.Variable[] {
    const chosen = options.segments ?? this.parts.map((_, i) => i + 1);
    const out: tf.Variable[] = [];
    for (const i of chosen) {
      this.checkIndex(i, 'segments');
      if (!this.frozen.has(i)) out.push(...(this.parts[i - 1] as ExpansivePad).trainableVariables());
    }
    return out;
  }

  setTrainable(trainable: boolean): void {
    this.parts.forEach((_, i) => this.setSegmentTrainable(i + 1, trainable));
  }

  /** Freezes or unfreezes one segment (1-based). */
  setSegmentTrainable(index: number, trainable: boolean): void {
    this.checkIndex(index, 'index');
    (this.parts[index - 1] as ExpansivePad).setTrainable(trainable);
    if (trainable) this.frozen.delete(index);
    else this.frozen.add(index);
  }

  /** Sum over segments; per segment see {@link segments}. 32→36→128: effective 816 + 45 264 = 46 080. */
  parameterCount(): ParameterCount {
    let effective = 0;
    let stored = 0;
    for (const p of this.parts) {
      const c = p.parameterCount();
      effective += c.effective;
      stored += c.stored;
    }
    return { effective, stored };
  }

  pattern(): PromptPattern {
    return tf.tidy(() => {
      const s0 = this.config.sizes[0] as number;
      const c = this.config.channels;
      const values = this.apply(tf.zeros([1, s0, s0, c]) as tf.Tensor4D).squeeze([0]) as tf.Tensor3D;
      const mask = tf.sub(1, this.centreIndicator()).squeeze([0]) as tf.Tensor3D;
      return { values, mask, kind: 'absolute' as const };
    });
  }

  /** `[1, S, S, 1]` indicator of the innermost image window in the final canvas. */
  private centreIndicator(): tf.Tensor4D {
    const sizes = this.config.sizes;
    const s0 = sizes[0] as number;
    let t = tf.ones([1, s0, s0, 1]) as tf.Tensor4D;
    for (const p of this.parts) {
      const [l, r] = p.pad;
      t = tf.pad(t, [[0, 0], [l, r], [l, r], [0, 0]]);
    }
    return t;
  }

  segments(): readonly SegmentInfo[] {
    return this.parts.map((p, i) => ({ ...(p.segments()[0] as SegmentInfo), index: i + 1 }));
  }

  getState(): Record<string, unknown> | undefined {
    return undefined;
  }

  setState(_state: Record<string, unknown> | undefined): void {}

  adoptVariables(variables: ReadonlyMap<string, tf.Variable>): void {
    for (const name of this.namedVariables().keys()) {
      if (!variables.has(name)) {
        throw new CheckpointError(`Prompt 'segmented' needs variable '${name}', which was not provided.`, { name });
      }
    }
    for (const p of this.parts) p.adoptVariables(variables);
  }

  dispose(): void {
    for (const p of this.parts) p.dispose();
  }

  private checkIndex(i: number, field: string): void {
    if (!Number.isInteger(i) || i < 1 || i > this.parts.length) {
      throw new ConfigError(
        `SegmentedPrompt: '${field}' must be a segment number 1..${this.parts.length} (1 = Prompt Core), got ${i}.`,
        { field, value: i },
      );
    }
  }
}
