import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFormatError } from '@promptkd/core';
import { encodeIdx, imageAt, parseIdx, readIdxDataset } from '@promptkd/datasets/node';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function writeToy(gz: boolean): { images: string; labels: string; pixels: Uint8Array } {
  const pixels = Uint8Array.from({ length: 3 * 2 * 5 }, (_, i) => (i * 11) % 256);
  const img = encodeIdx([3, 2, 5], pixels);
  const lab = encodeIdx([3], Uint8Array.of(2, 0, 9));
  const suffix = gz ? '.gz' : '';
  const images = join(tmp.dir, `img${suffix}`);
  const labels = join(tmp.dir, `lab${suffix}`);
  writeFileSync(images, gz ? gzipSync(img) : img);
  writeFileSync(labels, gz ? gzipSync(lab) : lab);
  return { images, labels, pixels };
}

describe('IDX reader', () => {
  it('writes the real header layout (magic 0x00000803, big-endian dims)', () => {
    const b = encodeIdx([3, 2, 5], new Uint8Array(30));
    expect([...b.subarray(0, 16)]).toEqual([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 5]);
  });

  for (const gz of [false, true]) {
    it(`reads a ${gz ? 'gzipped' : 'raw'} image/label pair`, () => {
      const f = writeToy(gz);
      const ds = readIdxDataset(f.images, f.labels, { name: 't', classNames: Array.from({ length: 10 }, String) });
      expect([ds.count, ds.height, ds.width, ds.channels]).toEqual([3, 2, 5, 1]);
      expect([...ds.labels]).toEqual([2, 0, 9]);
      expect([...imageAt(ds, 1)]).toEqual([...f.pixels.subarray(10, 20)]);
    });
  }

  it('rejects truncated, oversized, wrong-magic and wrong-type files with DataFormatError naming the file', () => {
    const good = encodeIdx([2, 2, 2], new Uint8Array(8));
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, good.length - 1), /need 8 data bytes but the file has 7/],
      [Uint8Array.of(...good, 0), /trailing bytes/],
      [good.subarray(0, 10), /truncated IDX header/],
      [Uint8Array.of(1, 2), /shorter than the 4-byte magic/],
      [Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0), /not an IDX file/],
      [Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0), /data type 0x0d is not supported/],
      [encodeIdx([0xffffffff, 0xffffffff, 2], new Uint8Array(4)), /need .* data bytes/],
      [gzipSync(good).subarray(0, 20), /corrupt or truncated gzip/],
    ];
    for (const [bytes, re] of cases) {
      let err: unknown;
      try {
        parseIdx(bytes, 'fake-file.idx');
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).toBeInstanceOf(DataFormatError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain('fake-file.idx');
      expect((err as DataFormatError).details.file).toBe('fake-file.idx');
    }
    expect(() => parseIdx(good, 'x', 1)).toThrow(/3 dimensions, expected 1/);
  });

  it('rejects label/image count mismatch and out-of-range labels', () => {
    const img = join(tmp.dir, 'i2');
    const lab = join(tmp.dir, 'l2');
    writeFileSync(img, encodeIdx([2, 1, 1], Uint8Array.of(1, 2)));
    writeFileSync(lab, encodeIdx([3], Uint8Array.of(0, 1, 0)));
    expect(() => readIdxDataset(img, lab, { name: 't', classNames: ['a', 'b'] })).toThrow(/has 3 labels but .* has 2 images/);
    writeFileSync(lab, encodeIdx([2], Uint8Array.of(0, 5)));
    expect(() => readIdxDataset(img, lab, { name: 't', classNames: ['a', 'b'] })).toThrow(DataFormatError);
  });
});
