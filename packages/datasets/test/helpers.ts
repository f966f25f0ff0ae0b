import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '@promptkd/core';
import { createImageDataset, type ImageDataset } from '@promptkd/datasets';

/** A fresh temporary folder; call the returned cleanup in afterAll/afterEach. */
export function tempDir(prefix = 'promptkd-datasets-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes. */
export function randomBytesSeeded(n: number, seed: number): Uint8Array {
  const rng = Rng.fromSeed(seed);
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

/** A tiny synthetic dataset whose pixel values encode (image index, pixel) for exact checks. */
export function toyDataset(count: number, numClasses: number, h = 4, w = 4, c = 1): ImageDataset {
  const per = h * w * c;
  const images = Uint8Array.from({ length: count * per }, (_, i) => (Math.floor(i / per) * 7 + (i % per)) % 256);
  const labels = Int32Array.from({ length: count }, (_, i) => i % numClasses);
  return createImageDataset({ name: 'toy', images, labels, height: h, width: w, channels: c, numClasses });
}

/** Folder of an installed npm package (test-side check, mirrors the library's lookup). */
export function npmPackageDirForTests(name: string): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}
