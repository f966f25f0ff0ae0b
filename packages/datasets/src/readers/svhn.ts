import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import { formatError } from './format-error.js';
import { parseMat } from './mat-v5.js';

/** SVHN class names: label k is digit k (the files use 10 for digit 0). */
export const SVHN_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/**
 * SVHN cropped digits (`train_32x32.mat` 73 257, `test_32x32.mat` 26 032, `extra_32x32.mat`): variable `X`
 * uint8 [32, 32, 3, N] column-major and `y` [N, 1] with labels 1..10, where 10 means digit 0 (→ label 0,
 * as torchvision does). Pixels are returned NHWC.
 */
export function parseSvhnMat(bytes: Uint8Array, file: string, name = 'svhn'): ImageDataset {
  const vars = parseMat(bytes, file);
  const X = vars.get('X');
  const y = vars.get('y');
  if (!X || !y) throw formatError(file, `SVHN .mat needs variables 'X' and 'y', found [${[...vars.keys()].join(', ')}]`);
  const [h, w, c, n] = [X.dims[0], X.dims[1], X.dims[2], X.dims.length >= 4 ? X.dims[3] : 1] as number[] as [number, number, number, number];
  if (X.dims.length < 3 || X.dims.length > 4 || c !== 3) {
    throw formatError(file, `'X' has dimensions [${X.dims.join(', ')}], expected [H, W, 3, N]`);
  }
  if (!(X.data instanceof Uint8Array)) throw formatError(file, "'X' is not stored as uint8");
  const ny = y.dims.reduce((a, b) => a * b, 1);
  if (ny !== n) throw formatError(file, `'y' has ${ny} labels but 'X' has ${n} images`);
  const images = new Uint8Array(n * h * w * 3);
  const src = X.data;
  // MATLAB column-major: X(i,j,k,m) at i + H·(j + W·(k + 3·m)).
  for (let m = 0; m < n; m++) {
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < w; j++) {
        const base = h * (j + w * (k + 3 * m));
        for (let i = 0; i < h; i++) images[((m * h + i) * w + j) * 3 + k] = src[base + i] as number;
      }
    }
  }
  const labels = new Int32Array(n);
  for (let m = 0; m < n; m++) {
    const v = y.data[m] as number;
    if (!Number.isInteger(v) || v < 0 || v > 10) throw formatError(file, `label ${v} at ${m} is not an SVHN label 1..10`);
    labels[m] = v % 10;
  }
  return createImageDataset({ name, images, labels, height: h, width: w, channels: 3, numClasses: 10, classNames: SVHN_CLASSES, source: file });
}
