import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import { formatError } from './format-error.js';

const PIXELS = 32 * 32;
const IMAGE = 3 * PIXELS;

/** CIFAR-10 class names (`batches.meta.txt`). */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** Layout of one CIFAR binary record. */
export interface CifarRecordLayout {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  readonly labelBytes: 1 | 2;
  /** Which label byte to use (CIFAR-100: 0 = coarse, 1 = fine). */
  readonly labelIndex: number;
  /** Number of classes; larger labels are a format error. */
  readonly numClasses: number;
}

/**
 * Parses a CIFAR binary batch: records of `labelBytes` label bytes + 3 072 pixel bytes (1 024 R, 1 024 G,
 * 1 024 B, each row-major 32×32). Pixels are returned NHWC.
 */
export function parseCifarBatch(bytes: Uint8Array, file: string, layout: CifarRecordLayout): { images: Uint8Array; labels: Int32Array } {
  const record = layout.labelBytes + IMAGE;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw formatError(
      file,
      `${bytes.length} bytes is not a whole number of ${record}-byte CIFAR records (${layout.labelBytes} label byte(s) + 3072 pixels)`,
      'The file is truncated or not a CIFAR binary batch.',
    );
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * IMAGE);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * record;
    const label = bytes[r + layout.labelIndex] as number;
    if (label >= layout.numClasses) {
      throw formatError(file, `record ${i} has label ${label}, not below ${layout.numClasses} (wrong CIFAR variant or corrupt)`);
    }
    labels[i] = label;
    const src = r + layout.labelBytes;
    const out = i * IMAGE;
    for (let p = 0; p < PIXELS; p++) {
      images[out + 3 * p] = bytes[src + p] as number;
      images[out + 3 * p + 1] = bytes[src + PIXELS + p] as number;
      images[out + 3 * p + 2] = bytes[src + 2 * PIXELS + p] as number;
    }
  }
  return { images, labels };
}

/** Encodes NHWC 32×32×3 images + label rows as CIFAR binary records (tests and tooling). */
export function encodeCifarBatch(images: Uint8Array, labelRows: readonly (readonly number[])[]): Uint8Array {
  const lb = labelRows[0]?.length ?? 1;
  const out = new Uint8Array(labelRows.length * (lb + IMAGE));
  labelRows.forEach((row, i) => {
    const r = i * (lb + IMAGE);
    row.forEach((v, k) => (out[r + k] = v));
    for (let p = 0; p < PIXELS; p++) for (let c = 0; c < 3; c++) out[r + lb + c * PIXELS + p] = images[i * IMAGE + 3 * p + c] as number;
  });
  return out;
}

/** Concatenates parsed CIFAR batches into one dataset. */
export function cifarFromParts(parts: { images: Uint8Array; labels: Int32Array }[], name: string, classNames: string[], source: string): ImageDataset {
  const n = parts.reduce((s, p) => s + p.labels.length, 0);
  const images = new Uint8Array(n * IMAGE);
  const labels = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * IMAGE);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return createImageDataset({ name, images, labels, height: 32, width: 32, channels: 3, numClasses: classNames.length, classNames, source });
}
