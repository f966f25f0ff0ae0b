import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '@promptkd/datasets/node';

/** A tiny Fashion-MNIST-shaped IDX set: 10 classes, class c = a bright 7×7 block at a class-specific patch. */
export function writeIdx(dir: string, split: 'train' | 't10k', perClass: number): void {
  const n = 10 * perClass;
  const images = new Uint8Array(n * 28 * 28);
  const labels = new Uint8Array(n);
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    const r0 = 7 * Math.floor(c / 4);
    const c0 = 7 * (c % 4);
    for (let p = 0; p < 784; p++) images[i * 784 + p] = Math.floor(40 * rand());
    for (let r = r0; r < r0 + 7; r++) for (let q = c0; q < c0 + 7; q++) images[i * 784 + r * 28 + q] = 200 + Math.floor(55 * rand());
  }
  writeFileSync(join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(encodeIdx([n, 28, 28], images)));
  writeFileSync(join(dir, `${split}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx([n], labels)));
}
