import { gzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { DataFormatError, Rng } from '@promptkd/core';
import {
  decodeImageRgb,
  decodePpm,
  encodeCifarBatch,
  encodeIdx,
  encodeMat,
  encodePpm,
  encodeTar,
  encodeZip,
  parseCifarBatch,
  parseCodaSplitYaml,
  parseDelimited,
  parseIdx,
  parseMat,
  parseSvhnMat,
  parseTar,
  parseZip,
  readGtsrb,
  type FileTree,
} from '@promptkd/datasets';
import { randomBytesSeeded } from './helpers.js';

const VARIANTS = 300;

/** One seeded corruption: byte flips, truncation, oversized header fields, zeroed ranges or appended junk. */
function mutate(src: Uint8Array, rng: Rng): Uint8Array {
  const op = rng.int(0, 4);
  const b = Uint8Array.from(src); // a plain Uint8Array (Buffer.fill throws past the end)
  if (op === 0) {
    const n = rng.int(1, 8);
    for (let i = 0; i < n; i++) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    return b;
  }
  if (op === 1) return b.subarray(0, rng.int(0, b.length - 1));
  if (op === 2) {
    const at = rng.int(0, Math.max(0, Math.min(b.length, 160) - 4));
    b.fill(0xff, at, at + 4);
    if (rng.random() < 0.5) b.fill(0x7f, at, at + 1);
    return b;
  }
  if (op === 3) {
    const at = rng.int(0, b.length - 1);
    b.fill(0, at, Math.min(b.length, at + rng.int(1, 64)));
    return b;
  }
  const junk = randomBytesSeeded(rng.int(1, 600), rng.seed());
  return new Uint8Array([...b, ...junk]);
}

/**
 * Runs `parse` on VARIANTS corruptions of each base input. Every outcome must be either a result that passes
 * `check` (consistent shapes) or a DataFormatError; anything else (TypeError, RangeError, ...) fails.
 */
function fuzz(name: string, bases: Uint8Array[], parse: (b: Uint8Array) => unknown, check: (r: unknown) => void, seed: number): void {
  const rng = Rng.fromSeed(seed);
  let typed = 0;
  let ok = 0;
  for (const base of bases) {
    for (let v = 0; v < VARIANTS; v++) {
      const input = mutate(base, rng);
      let result: unknown;
      try {
        result = parse(input);
      } catch (e) {
        if (!(e instanceof DataFormatError)) {
          throw new Error(`${name}: variant ${v} threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
        expect((e as DataFormatError).details.file).toBeDefined();
        typed++;
        continue;
      }
      check(result);
      ok++;
    }
  }
  // Corruptions must be detected most of the time (random flips in pixel data may legitimately parse).
  expect(typed, `${name}: typed errors`).toBeGreaterThan(0);
  expect(typed + ok).toBe(bases.length * VARIANTS);
}

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

describe('fuzz: every parser fails only with DataFormatError, never with a wrong shape', () => {
  it('IDX (raw and gzip)', () => {
    const raw = encodeIdx([3, 4, 5], randomBytesSeeded(60, 1));
    fuzz('idx', [raw, gzipSync(raw), encodeIdx([7], randomBytesSeeded(7, 2))], (b) => parseIdx(b, 'f.idx'), (r) => {
      const { dims, data } = r as { dims: number[]; data: Uint8Array };
      expect(data.length).toBe(prod(dims));
    }, 1);
  });

  it('tar (plain and gzip)', () => {
    const tar = encodeTar([{ name: 'a/b.bin', data: randomBytesSeeded(700, 3) }, { name: 'c.txt', data: new TextEncoder().encode('x') }]);
    fuzz('tar', [tar, gzipSync(tar)], (b) => parseTar(b, 'f.tar'), (r) => {
      for (const e of r as { data: Uint8Array }[]) expect(e.data).toBeInstanceOf(Uint8Array);
    }, 2);
  });

  it('CIFAR binary batches', () => {
    const c10 = encodeCifarBatch(randomBytesSeeded(2 * 3072, 4), [[1], [9]]);
    const c100 = encodeCifarBatch(randomBytesSeeded(2 * 3072, 5), [[3, 77], [19, 99]]);
    fuzz('cifar10', [c10], (b) => parseCifarBatch(b, 'f.bin', { labelBytes: 1, labelIndex: 0, numClasses: 10 }), (r) => {
      const { images, labels } = r as { images: Uint8Array; labels: Int32Array };
      expect(images.length).toBe(labels.length * 3072);
      expect([...labels].every((l) => l >= 0 && l < 10)).toBe(true);
    }, 3);
    fuzz('cifar100', [c100], (b) => parseCifarBatch(b, 'f.bin', { labelBytes: 2, labelIndex: 1, numClasses: 100 }), (r) => {
      const { images, labels } = r as { images: Uint8Array; labels: Int32Array };
      expect(images.length).toBe(labels.length * 3072);
    }, 4);
  });

  it('MATLAB v5 / SVHN (plain and compressed miMATRIX)', () => {
    const vars = [
      { name: 'X', dims: [32, 32, 3, 2], data: randomBytesSeeded(6144, 6) },
      { name: 'y', dims: [2, 1], data: Float64Array.of(10, 3) },
    ];
    const bases = [encodeMat(vars), encodeMat(vars, { compress: true })];
    fuzz('mat', bases, (b) => parseMat(b, 'f.mat'), (r) => {
      for (const a of (r as Map<string, { dims: number[]; data: ArrayLike<number> }>).values()) expect(a.data.length).toBe(prod(a.dims));
    }, 5);
    fuzz('svhn', bases, (b) => parseSvhnMat(b, 'f.mat'), (r) => {
      const ds = r as { images: Uint8Array; count: number; height: number; width: number; channels: number };
      expect(ds.images.length).toBe(ds.count * ds.height * ds.width * ds.channels);
    }, 6);
  });

  it('zip (stored and deflated, entries read)', () => {
    const zip = encodeZip([
      { name: 'a.ppm', data: randomBytesSeeded(300, 7), store: true },
      { name: 'd/b.csv', data: new TextEncoder().encode('x;y\n1;2\n'.repeat(20)) },
    ]);
    fuzz('zip', [zip], (b) => parseZip(b, 'f.zip').map((e) => e.read()), (r) => {
      for (const d of r as Uint8Array[]) expect(d).toBeInstanceOf(Uint8Array);
    }, 7);
  });

  it('PPM, PNG and JPEG images', () => {
    const img = { width: 9, height: 7, channels: 3, data: randomBytesSeeded(9 * 7 * 3, 8) };
    const rgba = new Uint8Array(9 * 7 * 4).map((_, i) => (i % 4 === 3 ? 255 : (img.data[Math.floor(i / 4) * 3 + (i % 4)] as number)));
    const bases = [
      encodePpm(img),
      encodePng({ width: 9, height: 7, data: img.data, channels: 3, depth: 8 }),
      new Uint8Array(jpeg.encode({ width: 9, height: 7, data: rgba }, 90).data),
    ];
    const check = (r: unknown) => {
      const o = r as { width: number; height: number; channels: number; data: Uint8Array };
      expect(o.data.length).toBe(o.width * o.height * o.channels);
    };
    fuzz('ppm', [bases[0]!], (b) => decodePpm(b, 'f.ppm'), check, 8);
    fuzz('image', bases, (b) => decodeImageRgb(b, 'f.img'), check, 9);
  });

  it('GTSRB CSV + reader, CODA-Prompt split yaml', () => {
    const csv = new TextEncoder().encode('Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n00000.ppm;8;8;1;1;6;6;3\n00001.ppm;8;8;1;1;6;6;42\n');
    const ppm = encodePpm({ width: 8, height: 8, channels: 3, data: randomBytesSeeded(192, 10) });
    fuzz('csv', [csv], (b) => parseDelimited(b, 'f.csv'), (r) => {
      const { header, rows } = r as { header: string[]; rows: string[][] };
      for (const row of rows) expect(row.length).toBe(header.length);
    }, 10);
    fuzz('gtsrb', [csv, ppm], (b) => {
      const files: Record<string, Uint8Array> = {
        'GT-final_test.csv': b.length > 100 && b[0] === 0x46 ? b : csv,
        'GTSRB/Final_Test/Images/00000.ppm': b[0] === 0x50 ? b : ppm,
        'GTSRB/Final_Test/Images/00001.ppm': ppm,
      };
      const tree: FileTree = {
        where: 'mem',
        paths: () => Object.keys(files).sort(),
        read: (p) => files[p] as Uint8Array,
      };
      return readGtsrb(tree, 'test', { imageSize: 4, cropRoi: true });
    }, (r) => {
      const ds = r as { images: Uint8Array; count: number };
      expect(ds.images.length).toBe(ds.count * 4 * 4 * 3);
    }, 11);
    const yaml = new TextEncoder().encode('data:\n- imagenet-r/n01/a.jpg\n- imagenet-r/n02/b.jpg\ntargets:\n- 0\n- 1\n');
    fuzz('yaml', [yaml], (b) => parseCodaSplitYaml(b, 'f.yaml'), (r) => {
      for (const x of r as { path: string; label: number }[]) expect(Number.isInteger(x.label)).toBe(true);
    }, 12);
  });
});
