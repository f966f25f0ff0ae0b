import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFormatError } from '@promptkd/core';
import { decodePpm, encodePpm, encodeZip, imageAt, loadDataset, parseZip, resizeImage, type RasterImage } from '@promptkd/datasets/node';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A w×h RGB image whose pixels encode (x, y, seed). */
function pattern(w: number, h: number, seed: number): RasterImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      data[(y * w + x) * 3] = (x * 8 + seed) % 256;
      data[(y * w + x) * 3 + 1] = (y * 8 + seed) % 256;
      data[(y * w + x) * 3 + 2] = seed % 256;
    }
  return { width: w, height: h, channels: 3, data };
}

const HEADER = 'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId';

/** The official GTSRB layout, as {path: bytes}. */
function gtsrbFiles(): Record<string, Uint8Array> {
  const enc = new TextEncoder();
  const files: Record<string, Uint8Array> = {};
  const train: [number, number, number][] = [[0, 40, 36], [0, 33, 33], [42, 50, 45]];
  const perClass = new Map<number, string[]>();
  train.forEach(([cls, w, h], i) => {
    const dir = `GTSRB/Final_Training/Images/${String(cls).padStart(5, '0')}`;
    const name = `00000_0000${i}.ppm`;
    files[`${dir}/${name}`] = encodePpm(pattern(w, h, i));
    const rows = perClass.get(cls) ?? [HEADER];
    rows.push(`${name};${w};${h};5;5;${w - 6};${h - 6};${cls}`);
    perClass.set(cls, rows);
  });
  for (const [cls, rows] of perClass) {
    const id = String(cls).padStart(5, '0');
    files[`GTSRB/Final_Training/Images/${id}/GT-${id}.csv`] = enc.encode(`${rows.join('\r\n')}\r\n`);
  }
  files['GTSRB/Final_Test/Images/00000.ppm'] = encodePpm(pattern(32, 32, 7));
  files['GTSRB/Final_Test/Images/00001.ppm'] = encodePpm(pattern(64, 48, 8));
  files['GTSRB/Final_Test/Images/GT-final_test.test.csv'] = enc.encode('Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\n');
  files['GT-final_test.csv'] = enc.encode(`${HEADER}\n00000.ppm;32;32;1;1;30;30;16\n00001.ppm;64;48;2;2;60;44;1\n`);
  return files;
}

describe('PPM reader', () => {
  it('decodes P6 and P5 with comments and rejects truncated/garbage headers', () => {
    const img = pattern(5, 4, 3);
    const withComment = new Uint8Array([...new TextEncoder().encode('P6\n# a comment\n5 4\n255\n'), ...img.data]);
    expect(decodePpm(withComment, 'c.ppm')).toEqual(img);
    const grey = new Uint8Array([...new TextEncoder().encode('P5 2 1 255\n'), 10, 20]);
    expect(decodePpm(grey, 'g.pgm')).toMatchObject({ width: 2, height: 1, channels: 1, data: Uint8Array.of(10, 20) });
    const p = encodePpm(img);
    expect(() => decodePpm(p.subarray(0, p.length - 1), 't.ppm')).toThrow(/t\.ppm: PPM pixel data is 59 bytes, need 60/);
    expect(() => decodePpm(new TextEncoder().encode('P3\n1 1\n255\n0 0 0'), 'a.ppm')).toThrow(/not a binary PPM/);
    expect(() => decodePpm(new TextEncoder().encode('P6\n99999 1\n255\n'), 'b.ppm')).toThrow(/outside 1\.\.16384/);
    expect(() => decodePpm(new TextEncoder().encode('P6\nx y\n255\n'), 'c.ppm')).toThrow(/malformed PPM header/);
  });
});

describe('bilinear image resize (load time)', () => {
  it('keeps constants, is exact for identity and averages when shrinking by 2', () => {
    const c: RasterImage = { width: 7, height: 5, channels: 3, data: new Uint8Array(105).fill(77) };
    expect([...resizeImage(c, 32, 32).data].every((v) => v === 77)).toBe(true);
    const img = pattern(6, 6, 1);
    expect(resizeImage(img, 6, 6)).toEqual(img);
    const row: RasterImage = { width: 4, height: 1, channels: 1, data: Uint8Array.of(0, 100, 200, 50) };
    // PIL antialiased bilinear, factor 2: triangle of half-width 2 centred at x=1 → pixels 0,1,2 weigh 0.75,0.75,0.25 (normalised)
    const half = resizeImage(row, 2, 1);
    expect(half.data.length).toBe(2);
    expect(half.data[0]).toBe(Math.round((0 * 0.75 + 100 * 0.75 + 200 * 0.25) / 1.75));
    expect(half.data[1]).toBe(Math.round((100 * 0.25 + 200 * 0.75 + 50 * 0.75) / 1.75));
  });
});

describe('zip reader', () => {
  it('reads stored and deflated entries and verifies CRC', () => {
    const a = new TextEncoder().encode('stored data');
    const b = new Uint8Array(5000).fill(3);
    const zip = encodeZip([{ name: 'x/a.txt', data: a, store: true }, { name: 'x/b.bin', data: b }]);
    const entries = parseZip(zip, 'z.zip');
    expect(entries.map((e) => e.name)).toEqual(['x/a.txt', 'x/b.bin']);
    expect([...entries[0]!.read()]).toEqual([...a]);
    expect(entries[1]!.read().length).toBe(5000);
    const corrupt = zip.slice();
    corrupt[40] = corrupt[40]! ^ 0xff; // inside the stored data of a.txt (local header 30 + name 7 bytes)
    expect(() => parseZip(corrupt, 'z.zip')[0]!.read()).toThrow(/CRC-32 mismatch/);
    expect(() => parseZip(zip.subarray(0, zip.length - 30), 'cut.zip')).toThrow(DataFormatError);
  });
});

describe('GTSRB reader', () => {
  const files = gtsrbFiles();

  it('reads the official layout from a folder: CSV labels, resize to 32x32 RGB', async () => {
    const root = join(tmp.dir, 'folder');
    for (const [p, bytes] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), bytes);
    }
    const train = await loadDataset('gtsrb', { root, split: 'train' });
    expect([train.count, train.height, train.width, train.channels, train.numClasses]).toEqual([3, 32, 32, 3, 43]);
    expect([...train.labels]).toEqual([0, 0, 42]);
    expect([...imageAt(train, 1)]).toEqual([...resizeImage(pattern(33, 33, 1), 32, 32).data]);
    const test = await loadDataset('gtsrb', { root, split: 'test' });
    expect([...test.labels]).toEqual([16, 1]);
    expect([...imageAt(test, 0)]).toEqual([...pattern(32, 32, 7).data]);
    const roi = await loadDataset('gtsrb', { root, split: 'test', source: 'roi', imageSize: 8 });
    expect(roi.height).toBe(8);
    expect([...imageAt(roi, 0)]).toEqual([...resizeImage(pattern(32, 32, 7), 8, 8, { x: 1, y: 1, width: 30, height: 30 }).data]);
  });

  it('reads the same data from the official zip archives', async () => {
    const root = join(tmp.dir, 'zips');
    mkdirSync(root, { recursive: true });
    const pick = (pred: (p: string) => boolean) => Object.entries(files).filter(([p]) => pred(p)).map(([name, data]) => ({ name, data }));
    writeFileSync(join(root, 'GTSRB_Final_Training_Images.zip'), encodeZip(pick((p) => p.includes('Final_Training'))));
    writeFileSync(join(root, 'GTSRB_Final_Test_Images.zip'), encodeZip(pick((p) => p.includes('Final_Test'))));
    writeFileSync(join(root, 'GTSRB_Final_Test_GT.zip'), encodeZip(pick((p) => p === 'GT-final_test.csv')));
    const train = await loadDataset('gtsrb', { root, split: 'train' });
    expect([...train.labels]).toEqual([0, 0, 42]);
    const test = await loadDataset('gtsrb', { cacheDir: tmp.dir, split: 'test', root });
    expect([...test.labels]).toEqual([16, 1]);
  });

  it('reports missing test annotations, bad ClassIds and missing images', async () => {
    const root = join(tmp.dir, 'broken');
    const put = (p: string, b: Uint8Array) => {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), b);
    };
    put('GTSRB/Final_Test/Images/00000.ppm', files['GTSRB/Final_Test/Images/00000.ppm']!);
    await expect(loadDataset('gtsrb', { root, split: 'test' })).rejects.toThrow(/GT-final_test\.csv not found/);
    put('GT-final_test.csv', new TextEncoder().encode(`${HEADER}\n00000.ppm;32;32;1;1;30;30;43\n`));
    await expect(loadDataset('gtsrb', { root, split: 'test' })).rejects.toThrow(/ClassId '43' is not in 0\.\.42/);
    put('GT-final_test.csv', new TextEncoder().encode(`${HEADER}\n00009.ppm;32;32;1;1;30;30;3\n`));
    await expect(loadDataset('gtsrb', { root, split: 'test' })).rejects.toThrow(/image '00009\.ppm' is not in/);
    put('GT-final_test.csv', new TextEncoder().encode(`${HEADER}\n00000.ppm;32;32\n`));
    await expect(loadDataset('gtsrb', { root, split: 'test' })).rejects.toThrow(/row 2 has 3 fields/);
  });
});
