/**
 * Dev aid: the input gradient (`Conv2DBackpropInput`) of the KiOP synthesis step's convolutions on each engine of the
 * native addon, ms per call (median of 5 runs of 10). `onednn` is the default engine, which hands some shapes to
 * col2im on its SGEMM (onednn_conv.cc); `openblas` and `builtin` always run col2im.
 * `node --conditions=@promptkd/source --import tsx scripts/bench/conv-input-grad.ts`
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@promptkd/tfjs-env';
import { loadNativeAddon } from '@promptkd/native-kernels';

await initBackend({ backend: 'wasm', native: 'auto' });
const addon = loadNativeAddon();
const engines = addon.engines();
// [dy, filter]: the 64-px host's first conv (3 input channels), the 32-px source's, and two inner layers
const SHAPES: Array<[number[], number[]]> = [
  [[32, 64, 64, 32], [3, 3, 3, 32]],
  [[32, 32, 32, 32], [3, 3, 3, 32]],
  [[32, 32, 32, 64], [3, 3, 32, 64]],
  [[32, 16, 16, 128], [3, 3, 64, 128]],
];
for (const [dyShape, wShape] of SHAPES) {
  const dy = tf.randomNormal(dyShape, 0, 1, 'float32', 1);
  const filter = tf.randomNormal(wShape, 0, 1, 'float32', 2);
  const inputShape = [dyShape[0], dyShape[1], dyShape[2], wShape[2]];
  const times = engines.map((engine) => {
    addon.setEngine(engine);
    const f = () => tf.tidy(() => void (tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape }) as tf.Tensor).dataSync());
    for (let i = 0; i < 5; i++) f();
    const runs = Array.from({ length: 5 }, () => {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) f();
      return (performance.now() - t0) / 10;
    }).sort((a, b) => a - b);
    return `${engine} ${runs[2]!.toFixed(2)}`;
  });
  console.log(`dy [${dyShape}], filter [${wShape}]: ${times.join(', ')} ms`);
  tf.dispose([dy, filter]);
}
