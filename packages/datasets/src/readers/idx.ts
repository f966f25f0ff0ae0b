import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import { maybeGunzip } from './decompress.js';
import { formatError } from './format-error.js';

/** A parsed IDX file (LeCun's format): dimensions and the uint8 payload. */
export interface IdxArray {
  /** Dimension sizes, e.g. [60000, 28, 28] for images or [60000] for labels. */
  readonly dims: readonly number[];
  /** Row-major uint8 payload of length ∏dims. */
  readonly data: Uint8Array;
}

/**
 * Parses IDX bytes (gzip-compressed or raw): big-endian magic `00 00 08 nd` (unsigned byte data,
 * e.g. 0x00000803 images, 0x00000801 labels), `nd` uint32 sizes, then the payload.
 * The payload length must equal the product of the sizes exactly.
 *
 * @param bytes - file contents
 * @param file - name used in error messages
 * @param expectDims - required number of dimensions (3 for images, 1 for labels); checked when given
 */
export function parseIdx(bytes: Uint8Array, file: string, expectDims?: number): IdxArray {
  const raw = maybeGunzip(bytes, file);
  if (raw.length < 4) throw formatError(file, `IDX file is ${raw.length} bytes, shorter than the 4-byte magic`);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw formatError(file, `not an IDX file (magic starts ${hex(raw[0])} ${hex(raw[1])}, expected 00 00)`);
  }
  const type = raw[2] as number;
  const nd = raw[3] as number;
  if (type !== 0x08) {
    throw formatError(file, `IDX data type 0x${type.toString(16).padStart(2, '0')} is not supported (only 0x08, unsigned byte)`);
  }
  if (nd === 0) throw formatError(file, 'IDX file declares 0 dimensions');
  if (expectDims !== undefined && nd !== expectDims) {
    throw formatError(file, `IDX file has ${nd} dimensions, expected ${expectDims} (magic 0x0000080${expectDims})`);
  }
  const headerLen = 4 + 4 * nd;
  if (raw.length < headerLen) throw formatError(file, `truncated IDX header (${raw.length} bytes, need ${headerLen})`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  let total = 1;
  for (let d = 0; d < nd; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    total *= size;
  }
  const payload = raw.length - headerLen;
  if (total !== payload) {
    throw formatError(
      file,
      `IDX dimensions [${dims.join(', ')}] need ${total} data bytes but the file has ${payload}${total > payload ? ' (truncated?)' : ' (trailing bytes)'}`,
    );
  }
  return { dims, data: new Uint8Array(raw.buffer, raw.byteOffset + headerLen, total) };
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}

/**
 * Builds a dataset from an IDX image file (N×H×W, grey) and an IDX label file (N).
 * Checks that the counts agree and that labels are below `classNames.length`.
 */
export function idxToDataset(
  images: IdxArray,
  labels: IdxArray,
  options: { name: string; classNames: readonly string[]; imagesFile: string; labelsFile: string },
): ImageDataset {
  const [n, h, w] = images.dims as [number, number, number];
  if (images.dims.length !== 3) throw formatError(options.imagesFile, `expected a 3-D IDX image array, got ${images.dims.length}-D`);
  if (labels.dims.length !== 1) throw formatError(options.labelsFile, `expected a 1-D IDX label array, got ${labels.dims.length}-D`);
  if (labels.dims[0] !== n) {
    throw formatError(options.labelsFile, `has ${labels.dims[0]} labels but ${options.imagesFile} has ${n} images`);
  }
  const k = options.classNames.length;
  const lab = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels.data[i] as number;
    if (l >= k) throw formatError(options.labelsFile, `label ${l} at index ${i} is not below the ${k} classes`);
    lab[i] = l;
  }
  return createImageDataset({
    name: options.name,
    images: images.data,
    labels: lab,
    height: h,
    width: w,
    channels: 1,
    numClasses: k,
    classNames: options.classNames,
  });
}

/** Encodes a uint8 array as IDX bytes (used by tests and tooling to write real-format files). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
