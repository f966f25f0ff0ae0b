import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { FeatureBank, ImageBank, quantizeToUint8 } from '@promptkd/data-free';
import { ImageBankFolder } from '@promptkd/data-free/node';

/** Rows whose every value is the row's global write number, so a sampled row tells which write it came from. */
function batch(n: number, dim: number, start: number): Float32Array {
  const a = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) a.fill(start + i + 1, i * dim, (i + 1) * dim);
  return a;
}

describe('FeatureBank', () => {
  it('samples only written rows before wrapping, and caps the count at what was written', () => {
    const bank = new FeatureBank({ capacity: 12, dim: 3 });
    const rng = Rng.fromSeed(0);
    expect(bank.sample(5, rng).indices).toEqual([]);
    bank.add(batch(4, 3, 0));
    const s = bank.sample(10, rng); // capped to 4
    expect(s.indices.length).toBe(4);
    expect(new Set(s.indices).size).toBe(4);
    for (const v of s.data) expect(v).toBeGreaterThan(0); // unwritten rows would read as 0 / throw
    for (let k = 0; k < 50; k++) {
      const t = bank.sample(3, rng);
      expect(t.indices.every((i) => i < 4)).toBe(true);
      expect(new Set(t.indices).size).toBe(3);
    }
  });

  it('is a ring buffer: after wrapping, all rows are readable and the oldest are overwritten', () => {
    const bank = new FeatureBank({ capacity: 8, dim: 2 });
    bank.add(batch(4, 2, 0)); // values 1..4
    bank.add(batch(4, 2, 4)); // 5..8
    bank.add(batch(4, 2, 8)); // 9..12 overwrite rows 0..3
    expect(bank.size).toBe(8);
    expect(bank.totalAdded).toBe(12);
    const all = bank.sample(100, Rng.fromSeed(1));
    const values = new Set<number>();
    for (let i = 0; i < all.indices.length; i++) values.add(all.data[i * 2] as number);
    expect([...values].sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('validates capacity divisibility and row width', () => {
    const bank = new FeatureBank({ capacity: 10, dim: 2 });
    expect(() => bank.add(batch(4, 2, 0))).toThrow(/not divisible/);
    expect(() => bank.add(tf.zeros([5, 3]) as tf.Tensor2D)).toThrow(/2 values/);
    expect(() => new FeatureBank({ capacity: 0, dim: 2 })).toThrow(/capacity/);
    const t = tf.ones([5, 2]) as tf.Tensor2D;
    bank.add(t);
    t.dispose();
    expect(bank.size).toBe(5);
  });
});

describe('ImageBank', () => {
  it('quantises by truncation like the reference PNG bank', () => {
    expect(Array.from(quantizeToUint8([-1, 0, 0.5, 0.999, 1, 2, Number.NaN, 1 / 255 - 1e-7]))).toEqual([0, 0, 127, 254, 255, 255, 0, 0]);
  });

  it('stores, gets and samples with a cycling shuffled order over the whole bank', () => {
    const bank = new ImageBank({ height: 2, width: 2, channels: 1, seed: 0 });
    expect(() => bank.sample(1)).toThrow(/empty/);
    const imgs = tf.tidy(() => tf.div(tf.reshape(tf.range(0, 12), [3, 2, 2, 1]), 255) as tf.Tensor4D);
    bank.add(imgs);
    expect(bank.size).toBe(3);
    const got = bank.get([2, 0]);
    const v = Array.from(got.dataSync(), (x) => Math.round(x * 255));
    // index 2 holds 8..11, index 0 holds 0..3 (values k/255 may truncate to k−1 in float32; allow that)
    expect(v[0]! === 8 || v[0]! === 7).toBe(true);
    expect(v[4]).toBeLessThanOrEqual(0);
    const s = bank.sample(6, Rng.fromSeed(5)); // two full passes
    const firsts = [];
    const d = s.dataSync();
    for (let i = 0; i < 6; i++) firsts.push(Math.round((d[i * 4 + 3] as number) * 255));
    expect(firsts.slice(0, 3).sort()).toEqual(firsts.slice(3, 6).sort());
    tf.dispose([imgs, got, s]);
  });

  it('draw picks by its own rng and leaves the order sample follows untouched', () => {
    const pixelIds = (t: tf.Tensor4D) => {
      const d = t.dataSync();
      t.dispose();
      return Array.from({ length: d.length }, (_, i) => Math.round((d[i] as number) * 255));
    };
    const make = () => {
      const bank = new ImageBank({ height: 1, width: 1, channels: 1, seed: 3 });
      const imgs = tf.tidy(() => tf.div(tf.reshape(tf.range(0, 10), [10, 1, 1, 1]), 255) as tf.Tensor4D);
      bank.add(imgs);
      imgs.dispose();
      return bank;
    };
    const plain = make();
    const looked = make();
    expect(() => looked.draw(0, Rng.fromSeed(1))).toThrow(/positive integer/);
    const stream = Rng.fromSeed(7);
    const streamCopy = Rng.fromSeed(7);
    const first = pixelIds(plain.sample(4, stream));
    expect(pixelIds(looked.sample(4, streamCopy))).toEqual(first);
    // a diagnostic draw in between: 12 images (more than the bank) with their own rng, each pass without repeats
    const drawn = pixelIds(looked.draw(12, Rng.fromSeed(99)));
    expect(new Set(drawn.slice(0, 10)).size).toBe(10);
    expect(pixelIds(looked.draw(12, Rng.fromSeed(99)))).toEqual(drawn);
    // training continues where it was, as if nothing had been drawn
    expect(pixelIds(looked.sample(9, streamCopy))).toEqual(pixelIds(plain.sample(9, stream)));
    expect(looked.exportState().cursor).toBe(plain.exportState().cursor);
    // whereas sample() with another rng does move the shared position
    const moved = make();
    moved.sample(4, Rng.fromSeed(7));
    moved.sample(3, Rng.fromSeed(99));
    expect(moved.exportState().cursor).not.toBe(make().exportState().cursor);
  });

  it('persists into an empty folder, refuses a folder with stale files, and resumes', () => {
    const root = mkdtempSync(join(tmpdir(), 'pkd-bank-'));
    const dir = join(root, 'bank');
    const bank = new ImageBank({ height: 2, width: 2, channels: 3, store: new ImageBankFolder(dir) });
    const imgs = tf.fill([2, 2, 2, 3], 0.5) as tf.Tensor4D;
    bank.add(imgs, [0, 1]);
    bank.add(imgs);
    expect(bank.labels).toEqual([0, 1, -1, -1]);
    expect(readdirSync(dir).sort()).toEqual(['images.u8', 'labels.i32', 'manifest.json']);
    expect(() => new ImageBank({ height: 2, width: 2, channels: 3, store: new ImageBankFolder(dir) })).toThrow(/not empty/);
    const stale = join(root, 'stale');
    new ImageBank({ height: 1, width: 1, channels: 1, store: new ImageBankFolder(stale) });
    writeFileSync(join(stale, 'old.png'), 'x');
    expect(() => new ImageBank({ height: 1, width: 1, channels: 1, store: new ImageBankFolder(join(root, 'stale')) })).toThrow(/not empty/);
    // a crash after appending but before the manifest: extra bytes are dropped on resume
    appendFileSync(join(dir, 'images.u8'), new Uint8Array(12));
    const again = new ImageBank({ height: 2, width: 2, channels: 3, store: new ImageBankFolder(dir), resume: true });
    expect(again.size).toBe(4);
    expect(again.labels).toEqual([0, 1, -1, -1]);
    expect(Array.from(again.toUint8()).every((b) => b === 127)).toBe(true);
    expect(() => new ImageBank({ height: 4, width: 2, channels: 3, store: new ImageBankFolder(dir), resume: true })).toThrow(/expected 4×2×3/);
    imgs.dispose();
  });
});
