import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFormatError, ResourceUnavailableError } from '@promptkd/core';
import { encodeMat, imageAt, loadDataset, MX, parseMat, parseSvhnMat } from '@promptkd/datasets/node';
import { randomBytesSeeded, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** SVHN-style variables: X uint8 [32,32,3,N] column-major from NHWC images; y double [N,1] with 10 for digit 0. */
function svhnVars(nhwc: Uint8Array, digits: number[]) {
  const n = digits.length;
  const X = new Uint8Array(32 * 32 * 3 * n);
  for (let m = 0; m < n; m++)
    for (let i = 0; i < 32; i++)
      for (let j = 0; j < 32; j++) for (let k = 0; k < 3; k++) X[i + 32 * (j + 32 * (k + 3 * m))] = nhwc[((m * 32 + i) * 32 + j) * 3 + k] as number;
  const y = Float64Array.from(digits, (d) => (d === 0 ? 10 : d));
  return [
    { name: 'X', dims: [32, 32, 3, n], data: X },
    { name: 'y', dims: [n, 1], data: y },
  ];
}

describe('MATLAB v5 reader', () => {
  for (const compress of [false, true]) {
    it(`reads ${compress ? 'zlib-compressed (miCOMPRESSED)' : 'plain miMATRIX'} uint8 and double arrays`, () => {
      const bytes = encodeMat(
        [
          { name: 'A', dims: [2, 3], data: Uint8Array.of(1, 2, 3, 4, 5, 6) },
          { name: 'longer_name', dims: [1, 2], data: Float64Array.of(0.5, -3) },
        ],
        { compress },
      );
      expect(new TextDecoder().decode(bytes.subarray(0, 10))).toBe('MATLAB 5.0');
      expect([bytes[126], bytes[127]]).toEqual([0x49, 0x4d]); // 'IM'
      const vars = parseMat(bytes, 'v.mat');
      expect([...vars.keys()]).toEqual(['A', 'longer_name']);
      expect(vars.get('A')).toMatchObject({ classCode: MX.UINT8, dims: [2, 3] });
      expect([...vars.get('A')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
      expect([...vars.get('longer_name')!.data]).toEqual([0.5, -3]);
    });
  }

  it('rejects v7.3/HDF5, bad headers, truncation and inconsistent dimensions', () => {
    const good = encodeMat([{ name: 'A', dims: [2, 2], data: Uint8Array.of(1, 2, 3, 4) }]);
    const hdf5 = Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(200));
    expect(() => parseMat(hdf5, 'h.mat')).toThrow(/HDF5/);
    const noEndian = good.slice();
    noEndian[126] = 0;
    expect(() => parseMat(noEndian, 'e.mat')).toThrow(/endian indicator/);
    expect(() => parseMat(good.subarray(0, 100), 's.mat')).toThrow(/shorter than the 128-byte/);
    expect(() => parseMat(good.subarray(0, good.length - 9), 't.mat')).toThrow(/t\.mat.*truncated/);
    const wrongDims = encodeMat([{ name: 'A', dims: [3, 2], data: Uint8Array.of(1, 2, 3, 4) }]);
    expect(() => parseMat(wrongDims, 'd.mat')).toThrow(/dimensions \[3, 2\] \(6 values\) but 4 stored values/);
    const z = encodeMat([{ name: 'A', dims: [2, 2], data: Uint8Array.of(1, 2, 3, 4) }], { compress: true });
    const zc = z.slice();
    zc[zc.length - 3] = (zc[zc.length - 3]! + 1) % 256; // corrupt the adler32 / deflate tail
    expect(() => parseMat(zc, 'z.mat')).toThrow(DataFormatError);
  });
});

describe('SVHN reader', () => {
  const nhwc = randomBytesSeeded(3 * 3072, 7);
  for (const compress of [false, true]) {
    it(`converts column-major X [32,32,3,N] to NHWC and label 10 to 0 (${compress ? 'compressed' : 'plain'})`, () => {
      const ds = parseSvhnMat(encodeMat(svhnVars(nhwc, [0, 5, 9]), { compress }), 'train_32x32.mat');
      expect([ds.count, ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([3, 32, 32, 3, 10]);
      expect([...ds.labels]).toEqual([0, 5, 9]);
      expect([...imageAt(ds, 1)]).toEqual([...nhwc.subarray(3072, 6144)]);
    });
  }

  it('loads through the registry from root and reports missing files', async () => {
    const dir = join(tmp.dir, 'svhn');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'test_32x32.mat'), encodeMat(svhnVars(nhwc, [1, 2, 3]), { compress: true }));
    const ds = await loadDataset('svhn', { root: dir, split: 'test' });
    expect([...ds.labels]).toEqual([1, 2, 3]);
    await expect(loadDataset('svhn', { root: dir, split: 'train' })).rejects.toBeInstanceOf(ResourceUnavailableError);
  });

  it('rejects files without X/y, wrong shapes and bad labels', () => {
    expect(() => parseSvhnMat(encodeMat([{ name: 'Z', dims: [1, 1], data: Uint8Array.of(1) }]), 'a.mat')).toThrow(/needs variables 'X' and 'y'/);
    const vars = svhnVars(nhwc, [1, 2, 3]);
    const badY = [vars[0]!, { name: 'y', dims: [2, 1], data: Float64Array.of(1, 2) }];
    expect(() => parseSvhnMat(encodeMat(badY), 'b.mat')).toThrow(/'y' has 2 labels but 'X' has 3 images/);
    const badLabel = [vars[0]!, { name: 'y', dims: [3, 1], data: Float64Array.of(1, 11, 2) }];
    expect(() => parseSvhnMat(encodeMat(badLabel), 'c.mat')).toThrow(/label 11/);
    const badX = [{ name: 'X', dims: [32, 32, 1, 3], data: new Uint8Array(3072) }, vars[1]!];
    expect(() => parseSvhnMat(encodeMat(badX), 'd.mat')).toThrow(/expected \[H, W, 3, N\]/);
  });
});
