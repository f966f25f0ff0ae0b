import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ShapeError } from '@promptkd/core';
import { ExpansivePad, VisualPromptLayer } from '@promptkd/visual-prompt';

describe('VisualPromptLayer', () => {
  it('runs in a LayersModel and matches the prompt', () => {
    const layer = new VisualPromptLayer({
      promptType: 'expansivePad',
      promptConfig: { inputSize: 4, outputSize: 8 },
      inputShape: [4, 4, 3],
      name: 'vp',
    });
    const model = tf.sequential({ layers: [layer, tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 2 })] });
    expect(model.outputs[0]?.shape).toEqual([null, 2]);
    expect(layer.getWeights().map((w) => w.shape)).toEqual([[8, 8, 3]]);
    const theta = tf.randomNormal([8, 8, 3], 0, 1, 'float32', 2);
    layer.setWeights([theta]);
    const ref = new ExpansivePad({ inputSize: 4, outputSize: 8 });
    ref.theta.assign(theta);
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const a = layer.apply(x) as tf.Tensor;
    const b = ref.apply(x);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect((model.predict(x) as tf.Tensor).shape).toEqual([2, 2]);
    // trainable weights are the prompt's θ (plus the dense layer's)
    expect(model.trainableWeights.map((w) => w.shape)).toContainEqual([8, 8, 3]);
    tf.dispose([theta, x, a, b]);
    ref.dispose();
    model.dispose();
  });

  it('getConfig → fromConfig rebuilds it; save → load round-trips model.predict', async () => {
    const layer = new VisualPromptLayer({
      promptType: 'segmented',
      promptConfig: { sizes: [4, 6, 10], channels: 1 },
      inputShape: [4, 4, 1],
    });
    const model = tf.sequential({ layers: [layer, tf.layers.flatten(), tf.layers.dense({ units: 3 })] });
    model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 1, 'float32', 10 + i)));
    const config = layer.getConfig();
    expect(config.promptType).toBe('segmented');
    expect(config.promptConfig).toEqual({ sizes: [4, 6, 10], channels: 1 });
    const rebuilt = VisualPromptLayer.fromConfig(VisualPromptLayer, config) as VisualPromptLayer;
    expect(rebuilt.computeOutputShape([null, 4, 4, 1])).toEqual([null, 10, 10, 1]);
    expect(rebuilt.prompt.parameterCount()).toEqual(layer.prompt.parameterCount());
    rebuilt.prompt.dispose();

    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    const x = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 5);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(loaded.layers[0]).toBeInstanceOf(VisualPromptLayer);
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('rejects an input of the wrong size', () => {
    expect(() =>
      tf.sequential({
        layers: [new VisualPromptLayer({ promptType: 'expansivePad', promptConfig: { inputSize: 4, outputSize: 8 }, inputShape: [5, 5, 3] })],
      }),
    ).toThrow(ShapeError);
  });
});
