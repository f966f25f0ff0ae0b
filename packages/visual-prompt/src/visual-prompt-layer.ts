import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';
import type { VisualPrompt } from './prompt.js';
import { createPrompt } from './registry.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Arguments of {@link VisualPromptLayer}: a prompt registry key and its config, plus the usual layer args. */
export interface VisualPromptLayerArgs extends LayerArgs {
  /** Prompt registry key, e.g. `expansivePad`. */
  readonly promptType: string;
  /** The prompt's config (JSON), e.g. `{inputSize: 32, outputSize: 36}`. */
  readonly promptConfig: Record<string, unknown>;
}

/**
 * Any registered visual prompt as a tfjs-layers layer, for users of `tf.LayersModel`:
 * `[N, H, W, C]` → the prompt's output shape. The prompt's tensors become the layer's weights (same names,
 * e.g. `theta`), so `model.save()`/`tf.loadLayersModel()` and `getWeights()/setWeights()` work. Serialisable:
 * `getConfig()` holds `{promptType, promptConfig}`, and the class is registered with
 * `tf.serialization.registerClass` when this module is imported.
 *
 * @example
 * const model = tf.sequential({ layers: [
 *   new VisualPromptLayer({ promptType: 'expansivePad', promptConfig: { inputSize: 32, outputSize: 36 }, inputShape: [32, 32, 3] }),
 *   host,  // a frozen LayersModel taking 36×36
 * ]});
 */
export class VisualPromptLayer extends tf.layers.Layer {
  /** @nocollapse */
  static className = 'VisualPromptLayer';
  readonly promptType: string;
  readonly promptConfig: Record<string, unknown>;
  /** The prompt computing this layer (after `build`, its variables are the layer's weights). */
  readonly prompt: VisualPrompt;

  constructor(args: VisualPromptLayerArgs) {
    super(args);
    this.promptType = args.promptType;
    this.promptConfig = JSON.parse(JSON.stringify(args.promptConfig)) as Record<string, unknown>;
    this.prompt = createPrompt(this.promptType, this.promptConfig);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const expected = this.prompt.inputShape;
    if (shape.length !== 4 || shape[1] !== expected[0] || shape[2] !== expected[1] || shape[3] !== expected[2]) {
      throw new ShapeError(
        `VisualPromptLayer(${this.promptType}) expects input [null, ${expected.join(', ')}], got [${shape.join(', ')}].`,
        { expected: [null, ...expected], actual: shape },
      );
    }
    const adopted = new Map<string, tf.Variable>();
    for (const [name, v] of this.prompt.namedVariables()) {
      const weight = this.addWeight(name, v.shape, 'float32', tf.initializers.zeros(), undefined, true);
      weight.write(v);
      adopted.set(name, weight.read() as tf.Variable);
    }
    this.prompt.adoptVariables(adopted);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0] ?? null, ...this.prompt.outputShape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      return this.prompt.apply(x);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      promptType: this.promptType,
      promptConfig: this.promptConfig as tf.serialization.ConfigDict,
    };
  }

  protected override disposeWeights(): number {
    const n = super.disposeWeights();
    this.prompt.dispose();
    return n;
  }
}

tf.serialization.registerClass(VisualPromptLayer);

/** Factory for {@link VisualPromptLayer} (tfjs style: `visualPromptLayer({...})`). */
export function visualPromptLayer(args: VisualPromptLayerArgs): VisualPromptLayer {
  return new VisualPromptLayer(args);
}
