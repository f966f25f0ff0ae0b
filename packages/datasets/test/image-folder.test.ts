import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataFormatError, ResourceUnavailableError } from '@promptkd/core';
import {
  classCounts,
  decodeImageRgb,
  imageAt,
  imagenetRFallbackSplit,
  loadDataset,
  parseCodaSplitYaml,
  resizeShorterAndCenterCrop,
  type RasterImage,
} from '@promptkd/datasets/node';
import { randomBytesSeeded, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function rgb(w: number, h: number, seed: number): RasterImage {
  return { width: w, height: h, channels: 3, data: randomBytesSeeded(w * h * 3, seed) };
}
const png = (img: RasterImage) => encodePng({ width: img.width, height: img.height, data: img.data, channels: img.channels, depth: 8 });
const jpg = (img: RasterImage) => {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let p = 0; p < img.width * img.height; p++) {
    rgba.set(img.data.subarray(3 * p, 3 * p + 3), 4 * p);
    rgba[4 * p + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width: img.width, height: img.height, data: rgba }, 100).data);
};
function put(root: string, path: string, bytes: Uint8Array): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), bytes);
}

describe('image decoding', () => {
  it('PNG RGB is exact; grey is replicated; RGBA drops alpha; 16-bit is scaled', () => {
    const img = rgb(5, 3, 1);
    expect(decodeImageRgb(png(img), 'a.png')).toEqual(img);
    const grey = encodePng({ width: 2, height: 1, data: Uint8Array.of(10, 200), channels: 1, depth: 8 });
    expect([...decodeImageRgb(grey, 'g.png').data]).toEqual([10, 10, 10, 200, 200, 200]);
    const rgba = encodePng({ width: 1, height: 1, data: Uint8Array.of(1, 2, 3, 4), channels: 4, depth: 8 });
    expect([...decodeImageRgb(rgba, 'r.png').data]).toEqual([1, 2, 3]);
    const deep = encodePng({ width: 1, height: 1, data: Uint16Array.of(65535, 0, 257 * 100), channels: 3, depth: 16 });
    expect([...decodeImageRgb(deep, 'd.png').data]).toEqual([255, 0, 100]);
  });

  it('JPEG decodes close to the source (quality 100)', () => {
    const flat: RasterImage = { width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3).map((_, i) => [200, 40, 90][i % 3] as number) };
    const out = decodeImageRgb(jpg(flat), 'f.jpg');
    expect([out.width, out.height]).toEqual([16, 16]);
    expect(Math.max(...out.data.map((v, i) => Math.abs(v - (flat.data[i] as number))))).toBeLessThanOrEqual(3);
  });

  it('unknown, truncated and corrupt images raise DataFormatError naming the file', () => {
    expect(() => decodeImageRgb(Uint8Array.of(1, 2, 3, 4), 'x.bin')).toThrow(/x\.bin: is not a PNG, JPEG or binary PPM/);
    const p = png(rgb(8, 8, 2));
    expect(() => decodeImageRgb(p.subarray(0, p.length - 20), 'cut.png')).toThrow(DataFormatError);
    const j = jpg(rgb(8, 8, 3));
    expect(() => decodeImageRgb(j.subarray(0, 40), 'cut.jpg')).toThrow(/cut\.jpg: cannot be decoded as JPEG/);
  });
});

describe('class-per-folder image directory', () => {
  it('labels = sorted folder names; PNG and JPEG; same-size images kept as is', async () => {
    const root = join(tmp.dir, 'folder');
    const a0 = rgb(6, 4, 10);
    put(root, 'cat/1.png', png(a0));
    put(root, 'cat/2.png', png(rgb(6, 4, 11)));
    put(root, 'ant/x.png', png(rgb(6, 4, 12)));
    put(root, 'ant/notes.txt', new TextEncoder().encode('ignored'));
    put(root, 'bee/y.jpg', jpg(rgb(6, 4, 13)));
    const ds = await loadDataset('imageFolder', { root });
    expect(ds.classNames).toEqual(['ant', 'bee', 'cat']);
    expect([...ds.labels]).toEqual([0, 1, 2, 2]);
    expect([ds.height, ds.width, ds.channels]).toEqual([4, 6, 3]);
    expect([...imageAt(ds, 2)]).toEqual([...a0.data]);
    put(root, 'cat/3.png', png(rgb(5, 5, 14)));
    await expect(loadDataset('imageFolder', { root })).rejects.toThrow(/is 5x5 but earlier images are 6x4.*imageSize/);
    const resized = await loadDataset('imageFolder', { root, imageSize: 8 });
    expect([resized.count, resized.height, resized.width]).toEqual([5, 8, 8]);
    await expect(loadDataset('imageFolder', {})).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('ImageNet-R', () => {
  const root = join(tmp.dir, 'imagenet-r');
  const wnids = ['n01', 'n02', 'n03'];
  for (const [c, w] of wnids.entries()) for (let i = 0; i < 5; i++) put(root, `${w}/art_${i}.jpg`, jpg(rgb(12 + c, 10, c * 10 + i)));

  it('fallback split is deterministic, per class 80/20, disjoint', async () => {
    const train = await loadDataset('imagenetR', { root, split: 'train', imageSize: 8 });
    const test = await loadDataset('imagenetR', { root, split: 'test', imageSize: 8 });
    expect(classCounts(train)).toEqual([4, 4, 4]);
    expect(classCounts(test)).toEqual([1, 1, 1]);
    expect(train.source).toMatch(/fallback split/);
    expect([train.height, train.width]).toEqual([8, 8]);
    const items = Array.from({ length: 15 }, (_, i) => ({ path: `${wnids[Math.floor(i / 5)]}/art_${i % 5}.jpg`, label: Math.floor(i / 5) }));
    const a = imagenetRFallbackSplit(items, 3, 'train').map((x) => x.path);
    const b = imagenetRFallbackSplit(items, 3, 'test').map((x) => x.path);
    expect(new Set([...a, ...b]).size).toBe(15);
    expect(imagenetRFallbackSplit(items, 3, 'train').map((x) => x.path)).toEqual(a);
  });

  it("uses CODA-Prompt's yaml split when present", async () => {
    const yaml = [
      'data:',
      `- data/imagenet-r/n03/art_4.jpg`,
      `- data/imagenet-r/n01/art_0.jpg`,
      'targets:',
      '- 2',
      '- 0',
      '',
    ].join('\n');
    put(root, 'splits/imagenet-r_test.yaml', new TextEncoder().encode(yaml));
    const test = await loadDataset('imagenetR', { root, split: 'test', imageSize: 8 });
    expect([...test.labels]).toEqual([2, 0]);
    expect(test.source).toMatch(/CODA-Prompt split/);
    const ref = resizeShorterAndCenterCrop(decodeImageRgb(jpg(rgb(14, 10, 24)), 'r.jpg'), 8);
    expect([...imageAt(test, 0)]).toEqual([...ref.data]);
    expect(() => parseCodaSplitYaml(new TextEncoder().encode('data:\n- a/b.jpg\ntargets:\n'), 'y.yaml')).toThrow(/1 paths and 0 targets/);
    expect(() => parseCodaSplitYaml(new TextEncoder().encode('data: [a]\n'), 'y.yaml')).toThrow(DataFormatError);
  });

  it('missing folder: ResourceUnavailableError with the download URL', async () => {
    const err = await loadDataset('imagenetR', { cacheDir: join(tmp.dir, 'none') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    expect((err as Error).message).toContain('https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar');
  });
});
