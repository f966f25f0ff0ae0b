import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataFormatError } from '@promptkd/core';
import type { ImageBankShape, ImageBankStore } from './image-bank.js';

interface Manifest {
  readonly format: 'promptkd-image-bank';
  readonly version: 1;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly count: number;
}

const DATA_FILE = 'images.u8';
const LABELS_FILE = 'labels.i32';
const MANIFEST_FILE = 'manifest.json';

/**
 * An {@link ImageBankStore} in a folder (inside a run folder; Node): `images.u8` (raw NHWC uint8, appended per
 * round), `labels.i32` and `manifest.json`. A new bank needs an empty or absent folder, so no stale images from an
 * earlier run can be mixed in (the reference's PNG pool reads every PNG under its folder).
 */
export class ImageBankFolder implements ImageBankStore {
  private shape: ImageBankShape | undefined;

  constructor(readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  open(shape: ImageBankShape, resume: boolean): { pixels: Uint8Array; labels: number[] } | undefined {
    this.shape = shape;
    const dir = this.dir;
    const imageSize = shape.height * shape.width * shape.channels;
    const manifestPath = join(dir, MANIFEST_FILE);
    if (resume && existsSync(manifestPath)) {
      let m: Manifest;
      try {
        m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
      } catch (e) {
        throw new DataFormatError(`Image bank manifest ${manifestPath} is not valid JSON.`, { file: manifestPath }, { cause: e });
      }
      if (m.format !== 'promptkd-image-bank' || m.height !== shape.height || m.width !== shape.width || m.channels !== shape.channels) {
        throw new DataFormatError(
          `Image bank in ${dir} holds ${m.height}×${m.width}×${m.channels} images (format '${String(m.format)}'), ` +
            `expected ${shape.height}×${shape.width}×${shape.channels}. Use a fresh folder.`,
          { file: manifestPath },
        );
      }
      const dataPath = join(dir, DATA_FILE);
      const want = m.count * imageSize;
      const bytes = existsSync(dataPath) ? readFileSync(dataPath) : new Uint8Array(0);
      if (bytes.length < want) {
        throw new DataFormatError(`Image bank data ${dataPath} is truncated: ${bytes.length} bytes, manifest says ${want}.`, {
          file: dataPath,
        });
      }
      // A crash between appending and writing the manifest leaves extra bytes: drop them.
      if (bytes.length > want) truncateSync(dataPath, want);
      const pixels = new Uint8Array(bytes.subarray(0, want));
      const labelsPath = join(dir, LABELS_FILE);
      const lb = existsSync(labelsPath) ? readFileSync(labelsPath) : new Uint8Array(0);
      let labels: number[];
      if (lb.length >= m.count * 4) {
        if (lb.length > m.count * 4) truncateSync(labelsPath, m.count * 4);
        const copy = new Uint8Array(lb.subarray(0, m.count * 4));
        labels = Array.from(new Int32Array(copy.buffer));
      } else {
        labels = new Array<number>(m.count).fill(-1);
        writeFileSync(labelsPath, new Uint8Array(Int32Array.from(labels).buffer));
      }
      return { pixels, labels };
    }
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new ConfigError(
        `Image bank folder ${dir} is not empty. A bank starts empty so stale images from another run are never ` +
          'mixed in: use a new run folder, or pass resume: true to continue the bank stored there.',
        { field: 'dir', dir },
      );
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DATA_FILE), new Uint8Array(0));
    writeFileSync(join(dir, LABELS_FILE), new Uint8Array(0));
    this.writeManifest(0);
    return undefined;
  }

  append(pixels: Uint8Array, labels: readonly number[], count: number): void {
    appendFileSync(join(this.dir, DATA_FILE), pixels);
    appendFileSync(join(this.dir, LABELS_FILE), new Uint8Array(Int32Array.from(labels).buffer));
    this.writeManifest(count);
  }

  private writeManifest(count: number): void {
    const s = this.shape as ImageBankShape;
    const m: Manifest = { format: 'promptkd-image-bank', version: 1, height: s.height, width: s.width, channels: s.channels, count };
    const tmp = join(this.dir, `${MANIFEST_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify(m));
    renameSync(tmp, join(this.dir, MANIFEST_FILE));
  }
}
