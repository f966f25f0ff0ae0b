import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { expectClose, expectNoTensorLeak } from '@promptkd/testing';
import {
  horizontalFlip,
  jitterAndFlip,
  randomCropWithPadding,
  randomResizedCrop,
  roll2d,
  sampleCropOffsets,
  sampleResizedCropBoxes,
} from '@promptkd/data-free';

const grid = (n: number, h: number, w: number): tf.Tensor4D =>
  tf.tidy(() => tf.add(tf.reshape(tf.range(0, n * h * w), [n, h, w, 1]), 1) as tf.Tensor4D);

describe('randomCropWithPadding (global view)', () => {
  it('crops each sample at its own offset in the zero-padded image', () => {
    const x = grid(2, 3, 3); // sample 0: 1..9, sample 1: 10..18
    const y = randomCropWithPadding(x, 1, [{ top: 0, left: 0 }, { top: 2, left: 1 }]);
    expect(Array.from(y.dataSync())).toEqual([
      0, 0, 0, 0, 1, 2, 0, 4, 5, // shifted down-right by one, zero fill
      13, 14, 15, 16, 17, 18, 0, 0, 0, // shifted up by one
    ]);
    tf.dispose([x, y]);
  });

  it('offsets lie in [0, 2·pad] and are seeded; gradients reach x', () => {
    const a = sampleCropOffsets(100, 4, Rng.fromSeed(1));
    expect(a.every((o) => o.top >= 0 && o.top <= 8 && o.left >= 0 && o.left <= 8)).toBe(true);
    expect(sampleCropOffsets(100, 4, Rng.fromSeed(1))).toEqual(a);
    const x = grid(2, 4, 4);
    const g = tf.grad((xi: tf.Tensor) => tf.sum(randomCropWithPadding(xi as tf.Tensor4D, 4, a.slice(0, 2))))(x);
    // x occupies padded rows/cols [4, 8); the window is [top, top+4) × [left, left+4)
    const overlap = (o: number): number => Math.max(0, Math.min(o + 4, 8) - Math.max(o, 4));
    const gv = Array.from(g.dataSync());
    expect(gv.every((v) => v === 0 || v === 1)).toBe(true);
    const perSample = [0, 1].map((i) => gv.slice(i * 16, (i + 1) * 16).reduce((s, v) => s + v, 0));
    expect(perSample).toEqual(a.slice(0, 2).map((o) => overlap(o.top) * overlap(o.left)));
    tf.dispose([x, g]);
  });
});

describe('horizontalFlip', () => {
  it('mirrors only the selected samples and passes gradients', () => {
    const x = grid(2, 1, 3);
    const y = horizontalFlip(x, [true, false]);
    expect(Array.from(y.dataSync())).toEqual([3, 2, 1, 4, 5, 6]);
    const w = tf.tensor4d([1, 2, 3, 4, 5, 6], [2, 1, 3, 1]);
    const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(horizontalFlip(xi as tf.Tensor4D, [true, false]), w)))(x);
    expect(Array.from(g.dataSync())).toEqual([3, 2, 1, 4, 5, 6]);
    tf.dispose([x, y, w, g]);
  });
});

describe('randomResizedCrop (local view)', () => {
  it('boxes respect scale/ratio bounds (or the centre-crop fallback) and are seeded', () => {
    const rng = Rng.fromSeed(4);
    const boxes = sampleResizedCropBoxes(200, 32, 32, rng, { scale: [0.25, 1] });
    for (const b of boxes) {
      expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= 32 && b.left + b.width <= 32).toBe(true);
      const area = (b.height * b.width) / (32 * 32);
      expect(area).toBeGreaterThan(0.2);
      expect(area).toBeLessThanOrEqual(1);
      expect(b.width / b.height).toBeGreaterThan(0.7);
      expect(b.width / b.height).toBeLessThan(1.45);
    }
    expect(sampleResizedCropBoxes(200, 32, 32, Rng.fromSeed(4), { scale: [0.25, 1] })).toEqual(boxes);
  });

  it('a full box is the identity; a half box upsamples bilinearly (align_corners=False); gradients flow', () => {
    const x = grid(1, 4, 4);
    const id = randomResizedCrop(x, [{ top: 0, left: 0, height: 4, width: 4 }]);
    expect(Array.from(id.dataSync())).toEqual(Array.from(x.dataSync()));
    const c = tf.tensor4d([0, 2, 4, 6], [1, 2, 2, 1]);
    const up = randomResizedCrop(tf.pad(c, [[0, 0], [0, 2], [0, 2], [0, 0]]) as tf.Tensor4D, [{ top: 0, left: 0, height: 2, width: 2 }]);
    // PyTorch F.interpolate(bilinear, align_corners=False) of [[0,2],[4,6]] to 4×4, first row: 0, 0.5, 1.5, 2
    expectClose(Array.from(up.dataSync()).slice(0, 4), [0, 0.5, 1.5, 2], { atol: 1e-6 });
    const g = tf.grad((xi: tf.Tensor) => tf.sum(randomResizedCrop(xi as tf.Tensor4D, [{ top: 1, left: 1, height: 2, width: 3 }])))(x);
    const gv = g.dataSync();
    expect(gv[0]).toBe(0);
    expect(Array.from(gv).reduce((a, b) => a + b, 0)).toBeCloseTo(16, 4); // every output pixel's weights sum to 1
    tf.dispose([x, id, c, up, g]);
  });

  it('each sample is cut from its own image and its gradient stays in its own box', () => {
    const x = grid(2, 4, 4); // sample 0: 1..16, sample 1: 17..32
    const boxes = [{ top: 0, left: 0, height: 2, width: 2 }, { top: 2, left: 1, height: 2, width: 3 }];
    const y = randomResizedCrop(x, boxes);
    expect(y.dataSync()[0]).toBe(1); // sample 0's box starts at its own top-left pixel
    expect(y.dataSync()[16]).toBe(17 + 2 * 4 + 1); // sample 1's at row 2, column 1 of its own image
    const g = tf.grad((xi: tf.Tensor) => tf.sum(randomResizedCrop(xi as tf.Tensor4D, boxes)))(x);
    const gv = Array.from(g.dataSync());
    boxes.forEach((b, i) => {
      const own = gv.slice(i * 16, (i + 1) * 16);
      const inBox = (k: number): boolean => Math.floor(k / 4) >= b.top && Math.floor(k / 4) < b.top + b.height && k % 4 >= b.left && k % 4 < b.left + b.width;
      expect(own.every((v, k) => inBox(k) || v === 0), `sample ${i}: gradient outside its box`).toBe(true);
      expect(own.reduce((a, v) => a + v, 0)).toBeCloseTo(16, 4);
    });
    tf.dispose([x, y, g]);
  });
});

describe('the views as separable resamplings equal their per-image composition', () => {
  // the composition they replace: one slice (and bilinear resize) per image, the images concatenated
  const composedResizedCrop = (x: tf.Tensor4D, boxes: readonly { top: number; left: number; height: number; width: number }[]): tf.Tensor4D =>
    tf.concat(
      boxes.map((b, i) => {
        const crop = tf.slice(x, [i, b.top, b.left, 0], [1, b.height, b.width, x.shape[3]]);
        return tf.image.resizeBilinear(crop, [x.shape[1], x.shape[2]], false, true);
      }),
      0,
    ) as tf.Tensor4D;
  const composedCrop = (x: tf.Tensor4D, pad: number, offsets: readonly { top: number; left: number }[]): tf.Tensor4D => {
    const p = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
    return tf.concat(offsets.map((o, i) => tf.slice(p, [i, o.top, o.left, 0], [1, x.shape[1], x.shape[2], x.shape[3]])), 0) as tf.Tensor4D;
  };
  const rand = (seed: number): tf.Tensor4D => tf.randomUniform([6, 32, 28, 3], 0, 1, 'float32', seed) as tf.Tensor4D;

  it('randomResizedCrop: the composition\'s values, and the adjoint of the same linear map as gradient', () => {
    const x = rand(1);
    const r = tf.randomNormal(x.shape, 0, 1, 'float32', 2);
    const boxes = [...sampleResizedCropBoxes(5, 32, 28, Rng.fromSeed(3), { scale: [0.08, 1] }), { top: 0, left: 0, height: 32, width: 28 }];
    expectClose(Array.from(randomResizedCrop(x, boxes).dataSync()), Array.from(composedResizedCrop(x, boxes).dataSync()), { atol: 1e-5 });
    // the view is linear in x, so its gradient g of ⟨r, view(x)⟩ is the adjoint: ⟨g, u⟩ = ⟨r, view(u)⟩ for every u
    // (zero-mean probes; the composition's gradient — tfjs 4.22's ResizeBilinearGrad ignores half-pixel centres —
    // misses it by 3–180 % on these three)
    const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(randomResizedCrop(xi as tf.Tensor4D, boxes), r)))(x);
    for (const seed of [11, 12, 13]) {
      const u = tf.randomNormal(x.shape, 0, 1, 'float32', seed) as tf.Tensor4D;
      const lhs = tf.sum(tf.mul(g, u)).dataSync()[0] as number;
      const rhs = tf.sum(tf.mul(r, randomResizedCrop(u, boxes))).dataSync()[0] as number;
      expect(Math.abs(lhs - rhs), `⟨g, u⟩ ${lhs} vs ⟨r, view(u)⟩ ${rhs}`).toBeLessThan(1e-4 * Math.abs(rhs));
      u.dispose();
    }
    tf.dispose([x, r, g]);
  });

  it('randomCropWithPadding: the same bits, values and gradient', () => {
    const x = rand(4);
    const r = rand(5);
    const offsets = sampleCropOffsets(6, 4, Rng.fromSeed(6));
    expect(Array.from(randomCropWithPadding(x, 4, offsets).dataSync())).toEqual(Array.from(composedCrop(x, 4, offsets).dataSync()));
    const grad = (f: (x: tf.Tensor4D) => tf.Tensor4D) => Array.from(tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(f(xi as tf.Tensor4D), r)))(x).dataSync());
    expect(grad((xi) => randomCropWithPadding(xi, 4, offsets))).toEqual(grad((xi) => composedCrop(xi, 4, offsets)));
    tf.dispose([x, r]);
  });

  it('leave no tensors behind', async () => {
    const x = rand(7);
    await expectNoTensorLeak(() => {
      randomResizedCrop(x, sampleResizedCropBoxes(6, 32, 28, Rng.fromSeed(8))).dispose();
      randomCropWithPadding(x, 2, sampleCropOffsets(6, 2, Rng.fromSeed(9))).dispose();
    });
    x.dispose();
  });
});

describe('jitterAndFlip (DeepInversion)', () => {
  it('roll2d is a cyclic shift like torch.roll', () => {
    const x = grid(1, 2, 3);
    const y = roll2d(x, 1, -1);
    expect(Array.from(y.dataSync())).toEqual([5, 6, 4, 2, 3, 1]);
    tf.dispose([x, y]);
  });

  it('preserves pixel content and leaks nothing', async () => {
    const x = grid(2, 8, 8);
    const y = jitterAndFlip(x, Rng.fromSeed(9));
    expect(Array.from(y.dataSync()).sort((a, b) => a - b)).toEqual(Array.from(x.dataSync()).sort((a, b) => a - b));
    const rng = Rng.fromSeed(2);
    await expectNoTensorLeak(() => jitterAndFlip(x, rng).dispose());
    tf.dispose([x, y]);
  });
});
