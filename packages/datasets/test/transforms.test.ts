import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, Rng } from '@promptkd/core';
import { checkGradients, expectClose, expectNoTensorLeak } from '@promptkd/testing';
import {
  compose,
  cropAt,
  flipWhere,
  greyToRgb,
  kiopTransform,
  normalize,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
  sampleResizedCropBox,
  NORMALIZATIONS,
} from '@promptkd/datasets';

const arange = (shape: [number, number, number, number]) =>
  tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i), shape);

describe('resize', () => {
  it('matches PyTorch bilinear align_corners=False (half-pixel centres) on a hand-computed 2x2→4x4 case', () => {
    const x = tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]);
    const y = resize(x, [4, 4]);
    const s = [0, 0.25, 0.75, 1];
    const expected = s.flatMap((sy) => s.map((sx) => 2 * sy + sx));
    expectClose(y.dataSync(), expected, { atol: 1e-6 });
    tf.dispose([x, y]);
  });

  it('28→32 keeps a constant image constant and has the right shape', () => {
    const x = tf.fill([2, 28, 28, 1], 0.5) as tf.Tensor4D;
    const y = resize(x, [32, 32]);
    expect(y.shape).toEqual([2, 32, 32, 1]);
    expectClose(y.dataSync(), new Float32Array(2 * 32 * 32).fill(0.5), { atol: 1e-6 });
    tf.dispose([x, y]);
    expect(() => resize(x, [0, 3])).toThrow(ConfigError);
  });

  it('has an exact gradient (finite differences) for up- and down-sampling', () => {
    const x = tf.randomUniform([2, 3, 4, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    for (const size of [[5, 7], [2, 3]] as [number, number][]) {
      const w = tf.randomUniform([2, size[0], size[1], 2], 0, 1, 'float32', 4);
      checkGradients((t) => tf.sum(tf.mul(resize(t as tf.Tensor4D, size), w)), [x]);
      w.dispose();
    }
    x.dispose();
  });

  it('agrees with tf.image.resizeBilinear(halfPixelCenters) in the forward pass', () => {
    const x = tf.randomUniform([2, 28, 28, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const a = resize(x, [32, 32]);
    const b = tf.image.resizeBilinear(x, [32, 32], false, true);
    expectClose(a.dataSync(), b.dataSync(), { atol: 1e-5 });
    tf.dispose([x, a, b]);
  });
});

describe('greyToRgb and normalize', () => {
  it('repeats the grey channel', () => {
    const x = tf.tensor4d([0.1, 0.2], [1, 1, 2, 1]);
    const y = greyToRgb(x);
    expect(y.shape).toEqual([1, 1, 2, 3]);
    expectClose(y.dataSync(), [0.1, 0.1, 0.1, 0.2, 0.2, 0.2]);
    tf.dispose([x, y]);
  });

  it('normalises per channel and broadcasts a single statistic', () => {
    const x = tf.tensor4d([0.4914, 0.4822, 0.4465, 1, 1, 1], [1, 1, 2, 3]);
    const y = normalize(x, NORMALIZATIONS.cifar10);
    expectClose(y.dataSync(), [0, 0, 0, (1 - 0.4914) / 0.2023, (1 - 0.4822) / 0.1994, (1 - 0.4465) / 0.201], { atol: 1e-5 });
    const g = tf.tensor4d([0.1307], [1, 1, 1, 1]);
    const z = normalize(g, NORMALIZATIONS.mnist);
    expectClose(z.dataSync(), [0], { atol: 1e-6 });
    tf.dispose([x, y, g, z]);
  });
});

describe('random crop with padding', () => {
  it('cropAt takes the exact window', () => {
    const x = arange([2, 4, 4, 1]);
    const y = cropAt(x, [{ y: 0, x: 1 }, { y: 2, x: 2 }], [2, 2]);
    expect([...y.dataSync()]).toEqual([1, 2, 5, 6, 16 + 10, 16 + 11, 16 + 14, 16 + 15]);
    tf.dispose([x, y]);
  });

  it('each sample is some window of the zero-padded image; offsets differ per sample; seeded', () => {
    const n = 12;
    const x = tf.add(arange([n, 6, 6, 1]), 1) as tf.Tensor4D; // no zeros inside the image
    const y1 = randomCrop(x, Rng.fromSeed(5), { padding: 2 });
    const y2 = randomCrop(x, Rng.fromSeed(5), { padding: 2 });
    expect(y1.shape).toEqual([n, 6, 6, 1]);
    expect([...y1.dataSync()]).toEqual([...y2.dataSync()]);
    const padded = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]]).arraySync() as number[][][][];
    const out = y1.arraySync() as number[][][][];
    const found: string[] = [];
    for (let i = 0; i < n; i++) {
      let hit = '';
      for (let oy = 0; oy <= 4 && !hit; oy++) {
        for (let ox = 0; ox <= 4 && !hit; ox++) {
          let same = true;
          for (let r = 0; r < 6 && same; r++) for (let c = 0; c < 6 && same; c++) same = out[i]![r]![c]![0] === padded[i]![oy + r]![ox + c]![0];
          if (same) hit = `${oy},${ox}`;
        }
      }
      expect(hit, `sample ${i}`).not.toBe('');
      found.push(hit);
    }
    expect(new Set(found).size).toBeGreaterThan(1);
    tf.dispose([x, y1, y2]);
  });

  it('is differentiable (finite differences) and leak-free', async () => {
    const x = tf.randomUniform([2, 3, 3, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomUniform([2, 3, 3, 1], 0, 1, 'float32', 2);
    checkGradients((t) => tf.sum(tf.mul(randomCrop(t as tf.Tensor4D, Rng.fromSeed(9), { padding: 1 }), w)), [x]);
    await expectNoTensorLeak(() => tf.dispose(randomCrop(x, Rng.fromSeed(1), { padding: 2 })));
    tf.dispose([x, w]);
  });
});

describe('horizontal flip', () => {
  it('flips only the flagged samples', () => {
    const x = arange([2, 1, 3, 1]);
    const y = flipWhere(x, [true, false]);
    expect([...y.dataSync()]).toEqual([2, 1, 0, 3, 4, 5]);
    const all = randomHorizontalFlip(x, Rng.fromSeed(0), 1);
    const none = randomHorizontalFlip(x, Rng.fromSeed(0), 0);
    expect([...all.dataSync()]).toEqual([2, 1, 0, 5, 4, 3]);
    expect([...none.dataSync()]).toEqual([0, 1, 2, 3, 4, 5]);
    tf.dispose([x, y, all, none]);
  });

  it('flips about half of a large batch and is differentiable', () => {
    const x = tf.tensor4d(Float32Array.from({ length: 200 * 2 }, (_, i) => i % 2), [200, 1, 2, 1]);
    const y = randomHorizontalFlip(x, Rng.fromSeed(3));
    const d = y.dataSync();
    let flipped = 0;
    for (let i = 0; i < 200; i++) if (d[2 * i] === 1) flipped++;
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
    const s = tf.randomUniform([3, 2, 2, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const w = tf.randomUniform([3, 2, 2, 1], 0, 1, 'float32', 5);
    checkGradients((t) => tf.sum(tf.mul(randomHorizontalFlip(t as tf.Tensor4D, Rng.fromSeed(2)), w)), [s]);
    tf.dispose([x, y, s, w]);
  });
});

describe('random resized crop', () => {
  it('samples boxes inside the image with area and aspect in range (torchvision get_params)', () => {
    const rng = Rng.fromSeed(11);
    for (let i = 0; i < 200; i++) {
      const b = sampleResizedCropBox(64, 48, rng);
      expect(b.y >= 0 && b.x >= 0 && b.y + b.h <= 64 && b.x + b.w <= 48).toBe(true);
      const frac = (b.h * b.w) / (64 * 48);
      expect(frac).toBeGreaterThan(0.05);
      expect(frac).toBeLessThanOrEqual(1);
    }
    // impossible scale → fallback centre crop clamped to the ratio range
    const wide = sampleResizedCropBox(10, 100, Rng.fromSeed(1), [1, 1], [1, 1]);
    expect(wide).toEqual({ y: 0, x: 45, h: 10, w: 10 });
  });

  it('full-scale square crop of a square image at the same size is the identity', () => {
    const x = arange([2, 5, 5, 1]);
    const y = randomResizedCrop(x, Rng.fromSeed(0), { size: [5, 5], scale: [1, 1], ratio: [1, 1] });
    expect([...y.dataSync()]).toEqual([...x.dataSync()]);
    tf.dispose([x, y]);
  });

  it('is differentiable: gradient of sum(out) sums to the number of output pixels, and matches finite differences', () => {
    const x = tf.randomUniform([3, 8, 8, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
    const g = tf.grad((t: tf.Tensor) => tf.sum(randomResizedCrop(t as tf.Tensor4D, Rng.fromSeed(4), { size: [6, 6] })))(x);
    expect(Math.abs((tf.sum(g).dataSync()[0] as number) - 3 * 6 * 6 * 2)).toBeLessThan(1e-2);
    const small = tf.randomUniform([2, 4, 4, 1], 0, 1, 'float32', 8) as tf.Tensor4D;
    const w = tf.randomUniform([2, 3, 3, 1], 0, 1, 'float32', 9);
    checkGradients((t) => tf.sum(tf.mul(randomResizedCrop(t as tf.Tensor4D, Rng.fromSeed(6), { size: [3, 3], scale: [0.3, 1] }), w)), [small]);
    tf.dispose([x, g, small, w]);
  });
});

describe('presets', () => {
  it('KiOP mnist preprocessing gives 32x32x3 in [0,1]; compose is leak-free', async () => {
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const t = kiopTransform('mnist', 'train');
    const y = t(x, Rng.fromSeed(0));
    expect(y.shape).toEqual([2, 32, 32, 3]);
    const rgb = greyToRgb(x);
    await expectNoTensorLeak(() => tf.dispose(kiopTransform('cifar10', 'train')(rgb, Rng.fromSeed(1))));
    await expectNoTensorLeak(() => tf.dispose(compose(kiopTransform('mnist', 'test'), kiopTransform('cifar10', 'train'))(x, Rng.fromSeed(1))));
    tf.dispose([x, y, rgb]);
  });
});
