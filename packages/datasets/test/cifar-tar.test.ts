import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFormatError, ResourceUnavailableError } from '@promptkd/core';
import { encodeCifarBatch, encodeTar, imageAt, loadDataset, parseCifarBatch, parseTar } from '@promptkd/datasets/node';
import { randomBytesSeeded, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** n random NHWC 32x32x3 images. */
const pixels = (n: number, seed: number) => randomBytesSeeded(n * 3072, seed);

describe('tar reader', () => {
  it('lists regular files of plain and gzipped ustar archives', () => {
    const files = [
      { name: 'dir/a.txt', data: new TextEncoder().encode('hello') },
      { name: 'dir/b.bin', data: randomBytesSeeded(1000, 1) },
    ];
    const tar = encodeTar(files);
    for (const bytes of [tar, gzipSync(tar)]) {
      const entries = parseTar(bytes, 'x.tar');
      expect(entries.map((e) => e.name)).toEqual(['dir/a.txt', 'dir/b.bin']);
      expect([...entries[1]!.data]).toEqual([...files[1]!.data]);
    }
  });

  it('rejects bad checksums, truncation and garbage', () => {
    const tar = encodeTar([{ name: 'a.bin', data: randomBytesSeeded(2000, 2) }]);
    const badSum = tar.slice();
    badSum[0] = 0x5a;
    expect(() => parseTar(badSum, 'bad.tar')).toThrow(/bad\.tar.*bad checksum/);
    expect(() => parseTar(tar.subarray(0, 1200), 'short.tar')).toThrow(/truncated/);
    expect(() => parseTar(gzipSync(tar).subarray(0, 100), 'short.tar.gz')).toThrow(DataFormatError);
    expect(() => parseTar(randomBytesSeeded(1024, 3), 'junk.tar')).toThrow(DataFormatError);
  });
});

describe('CIFAR binary reader', () => {
  it('converts CHW records to NHWC and reads labels (CIFAR-10 layout)', () => {
    const img = pixels(2, 4);
    const bytes = encodeCifarBatch(img, [[3], [9]]);
    expect(bytes.length).toBe(2 * 3073);
    // record 1: label byte, then 1024 R values, then G, then B
    expect(bytes[3073]).toBe(9);
    expect(bytes[3073 + 1 + 5]).toBe(img[3072 + 3 * 5]); // R of pixel 5 of image 1
    expect(bytes[3073 + 1 + 1024 + 5]).toBe(img[3072 + 3 * 5 + 1]); // G
    const { images, labels } = parseCifarBatch(bytes, 'b.bin', { labelBytes: 1, labelIndex: 0, numClasses: 10 });
    expect([...labels]).toEqual([3, 9]);
    expect([...images]).toEqual([...img]);
  });

  it('reads CIFAR-10 from an extracted folder and from the .tar.gz archive', async () => {
    const dir = join(tmp.dir, 'c10', 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    const files: { name: string; data: Uint8Array }[] = [];
    const all: Uint8Array[] = [];
    for (let b = 1; b <= 5; b++) {
      const img = pixels(2, 10 + b);
      all.push(img);
      files.push({ name: `cifar-10-batches-bin/data_batch_${b}.bin`, data: encodeCifarBatch(img, [[b], [(b + 5) % 10]]) });
    }
    files.push({ name: 'cifar-10-batches-bin/test_batch.bin', data: encodeCifarBatch(pixels(3, 20), [[0], [1], [2]]) });
    files.push({ name: 'cifar-10-batches-bin/batches.meta.txt', data: new TextEncoder().encode('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n') });
    for (const f of files) writeFileSync(join(tmp.dir, 'c10', f.name), f.data);
    const archive = join(tmp.dir, 'cifar-10-binary.tar.gz');
    writeFileSync(archive, gzipSync(encodeTar(files)));
    for (const root of [join(tmp.dir, 'c10'), dir, archive]) {
      const train = await loadDataset('cifar10', { root, split: 'train' });
      expect([train.count, train.height, train.width, train.channels, train.numClasses]).toEqual([10, 32, 32, 3, 10]);
      expect([...train.labels]).toEqual([1, 6, 2, 7, 3, 8, 4, 9, 5, 0]);
      expect([...imageAt(train, 4)]).toEqual([...all[2]!.subarray(0, 3072)]);
      expect(train.classNames[1]).toBe('automobile');
      const test = await loadDataset('cifar10', { root, split: 'test' });
      expect(test.count).toBe(3);
    }
  });

  it('reads CIFAR-100 fine and coarse labels', async () => {
    const dir = join(tmp.dir, 'c100', 'cifar-100-binary');
    mkdirSync(dir, { recursive: true });
    const img = pixels(2, 30);
    writeFileSync(join(dir, 'train.bin'), encodeCifarBatch(img, [[19, 99], [4, 37]]));
    writeFileSync(join(dir, 'test.bin'), encodeCifarBatch(pixels(1, 31), [[0, 1]]));
    const fine = await loadDataset('cifar100', { root: join(tmp.dir, 'c100') });
    expect([...fine.labels]).toEqual([99, 37]);
    expect(fine.numClasses).toBe(100);
    expect([...imageAt(fine, 1)]).toEqual([...img.subarray(3072)]);
    const coarse = await loadDataset('cifar100', { root: dir, source: 'coarse' });
    expect([...coarse.labels]).toEqual([19, 4]);
    expect(coarse.numClasses).toBe(20);
  });

  it('rejects truncated batches, bad labels and missing files with DataFormatError naming the file', async () => {
    const good = encodeCifarBatch(pixels(2, 5), [[1], [2]]);
    expect(() => parseCifarBatch(good.subarray(0, good.length - 1), 't.bin', { labelBytes: 1, labelIndex: 0, numClasses: 10 })).toThrow(
      /t\.bin: 6145 bytes is not a whole number of 3073-byte CIFAR records/,
    );
    const bad = good.slice();
    bad[0] = 10;
    expect(() => parseCifarBatch(bad, 'l.bin', { labelBytes: 1, labelIndex: 0, numClasses: 10 })).toThrow(/record 0 has label 10/);
    // CIFAR-100 file read as CIFAR-10: record size mismatch
    expect(() => parseCifarBatch(encodeCifarBatch(pixels(1, 6), [[1, 2]]), 'c100.bin', { labelBytes: 1, labelIndex: 0, numClasses: 10 })).toThrow(DataFormatError);
    const empty = join(tmp.dir, 'emptycifar');
    mkdirSync(empty, { recursive: true });
    await expect(loadDataset('cifar10', { root: empty })).rejects.toThrow(/data_batch_1\.bin not found/);
  });

  it('a root that does not exist is a ResourceUnavailableError (cifar, gtsrb, imageFolder)', async () => {
    for (const key of ['cifar10', 'cifar100', 'gtsrb', 'imageFolder']) {
      await expect(loadDataset(key, { root: join(tmp.dir, 'does-not-exist') })).rejects.toBeInstanceOf(ResourceUnavailableError);
    }
  });

  it('offline with an empty cache: ResourceUnavailableError with the official URL', async () => {
    const err = await loadDataset('cifar10', { cacheDir: join(tmp.dir, 'nocache'), offline: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    expect((err as Error).message).toContain('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
    expect((err as Error).message).toContain(join(tmp.dir, 'nocache', 'cifar10', 'cifar-10-binary.tar.gz'));
  });
});
