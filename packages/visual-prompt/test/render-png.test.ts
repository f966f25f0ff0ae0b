import * as tf from '@tensorflow/tfjs';
import { decode } from 'fast-png';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { AdditivePad, ExpansivePad, SegmentedPrompt, renderImageGridPng, renderPromptPng } from '@promptkd/visual-prompt';

describe('renderPromptPng', () => {
  it('writes a PNG of the prompt alone that decodes to the right size, centre transparent', async () => {
    const p = new ExpansivePad({ inputSize: 4, outputSize: 8 });
    const bytes = renderPromptPng(p, { scale: 3 });
    const dir = await mkdtemp(join(tmpdir(), 'promptkd-png-'));
    const file = join(dir, 'prompt.png');
    await writeFile(file, bytes);
    const img = decode(await readFile(file));
    expect([img.width, img.height, img.channels]).toEqual([24, 24, 4]);
    // ring pixel (0,0): sigmoid(0) = 0.5 → 128, opaque; centre pixel (12,12): transparent
    expect(Array.from(img.data.slice(0, 4))).toEqual([128, 128, 128, 255]);
    const c = (12 * 24 + 12) * 4;
    expect(img.data[c + 3]).toBe(0);
    await rm(dir, { recursive: true, force: true });
    p.dispose();
  });

  it('renders prompt | prompt over example side by side (KiOP Fig. 3)', () => {
    const p = new SegmentedPrompt({ sizes: [4, 6, 10] });
    const example = tf.fill([4, 4, 3], 1) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const img = decode(renderPromptPng(p, { example, scale: 2, gap: 2, centre: 'grey' }));
    expect(tf.memory().numTensors).toBe(before);
    expect([img.width, img.height]).toEqual([(10 + 2 + 10) * 2, 20]);
    // composite panel: the example (white) sits at offset 1+2 = 3 of the 10×10 canvas
    const px = (x: number, y: number) => Array.from(img.data.slice((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
    expect(px((12 + 3) * 2, 3 * 2)).toEqual([255, 255, 255, 255]);
    expect(px((12 + 0) * 2, 0)).toEqual([128, 128, 128, 255]);
    // prompt-alone centre is grey when asked
    expect(px(5 * 2, 5 * 2)).toEqual([128, 128, 128, 255]);
    expect(() => renderPromptPng(p, { example: tf.zeros([5, 5, 3]) as tf.Tensor3D })).toThrow(ShapeError);
    example.dispose();
    p.dispose();
  });

  it('contrast-normalises additive prompts', () => {
    const p = new AdditivePad({ size: 8, padSize: 2, seed: 4 });
    const img = decode(renderPromptPng(p));
    expect([img.width, img.height]).toEqual([8, 8]);
    const values = Array.from(img.data).filter((_, i) => i % 4 !== 3 && img.data[i - (i % 4) + 3] === 255);
    // the largest |δ| maps to 0 or 255, zero offset to 128
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    expect(lo <= 1 || hi >= 254).toBe(true);
    expect(hi - lo).toBeGreaterThan(100);
    p.dispose();
  });
});

describe('renderImageGridPng', () => {
  it('lays rows of images out as a grid, upscaled, grey images as grey, short rows padded black', () => {
    // row 0: two 2×2 RGB images (red, then values 0.5); row 1: one image
    const red = tf.tensor4d([1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0], [1, 2, 2, 3]);
    const half = tf.fill([1, 2, 2, 3], 0.5) as tf.Tensor4D;
    const row0 = tf.concat([red, half]) as tf.Tensor4D;
    const row1 = tf.fill([1, 2, 2, 3], 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const img = decode(renderImageGridPng([row0, row1], { scale: 2, gap: 1 }));
    expect(tf.memory().numTensors).toBe(before);
    // 2 columns of 2 px + 1 px gap, ×2 → 10 × 10
    expect([img.width, img.height, img.channels]).toEqual([10, 10, 4]);
    const px = (x: number, y: number) => Array.from(img.data.slice((y * 10 + x) * 4, (y * 10 + x) * 4 + 4));
    expect(px(0, 0)).toEqual([255, 0, 0, 255]);
    expect(px(4, 0)).toEqual([0, 0, 0, 255]); // gap
    expect(px(6, 3)).toEqual([128, 128, 128, 255]);
    expect(px(0, 6)).toEqual([255, 255, 255, 255]);
    expect(px(6, 6)).toEqual([0, 0, 0, 255]); // row 1 has one image
    tf.dispose([red, half, row0, row1]);
  });

  it('shows one-channel images grey and refuses mismatched shapes, no images and bad options', () => {
    const grey = tf.fill([1, 1, 1, 1], 0.25) as tf.Tensor4D;
    const img = decode(renderImageGridPng([grey]));
    expect(Array.from(img.data)).toEqual([64, 64, 64, 255]);
    const other = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    expect(() => renderImageGridPng([grey, other])).toThrow(ShapeError);
    expect(() => renderImageGridPng([tf.zeros([0, 2, 2, 3]) as tf.Tensor4D])).toThrow(ShapeError);
    expect(() => renderImageGridPng([grey], { scale: 0 })).toThrow(ConfigError);
    tf.dispose([grey, other]);
  });
});
