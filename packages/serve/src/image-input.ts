import { ConfigError, DataFormatError, NonFiniteError, ShapeError } from '@promptkd/core';
import { decodeImageRgb, resizeImage, resizeShorterAndCenterCrop, sniffImageFormat, type RasterImage } from '@promptkd/datasets';

/** [H, W, C] of an image. */
export type ImageShape3 = readonly [number, number, number];

/** Limits on what an upload may decode to. */
export interface ImageLimits {
  /** Largest decoded image, in pixels (width × height). Default 4096² (a decompression bomb is refused before decoding). */
  readonly maxPixels?: number;
}

const DEFAULT_MAX_PIXELS = 4096 * 4096;

/** Width and height of a PNG from its IHDR chunk (bytes 16..23), read before decoding. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Decodes an uploaded PNG or JPEG (the datasets package's decoders: fast-png, jpeg-js) and brings it to the served
 * task's image shape `[H, W, C]`: a different size is resized (shorter side, then centre crop, PIL-style
 * antialiased bilinear); C = 1 takes the grey value (the luma of a colour image). Returns the pixels / 255 in
 * [0, 1], NHWC order, `H·W·C` values.
 *
 * @throws DataFormatError for anything that is not a decodable PNG/JPEG (wrong magic bytes, truncated, corrupt)
 *   or that would decode to more than `maxPixels` pixels.
 */
export function decodeUpload(bytes: Uint8Array, name: string, shape: ImageShape3, limits: ImageLimits = {}): Float32Array {
  const format = sniffImageFormat(bytes);
  if (format !== 'png' && format !== 'jpeg') {
    throw new DataFormatError(
      `Upload '${name}' is not a PNG or JPEG image (its first bytes match neither). Send a PNG or JPEG file, or raw ` +
        'float32 NHWC pixels as application/octet-stream with ?shape=N,H,W,C.',
      { file: name, problem: 'not-an-image' },
    );
  }
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  const size = format === 'png' ? pngSize(bytes) : undefined;
  if (size && size.width * size.height > maxPixels) {
    throw new DataFormatError(
      `Upload '${name}' is a ${size.width}×${size.height} PNG, more than the ${maxPixels}-pixel limit. Send a smaller image.`,
      { file: name, problem: 'too-many-pixels', width: size.width, height: size.height, maxPixels },
    );
  }
  const rgb = decodeImageRgb(bytes, `upload '${name}'`);
  if (rgb.width * rgb.height > maxPixels) {
    throw new DataFormatError(
      `Upload '${name}' is ${rgb.width}×${rgb.height} pixels, more than the ${maxPixels}-pixel limit. Send a smaller image.`,
      { file: name, problem: 'too-many-pixels', width: rgb.width, height: rgb.height, maxPixels },
    );
  }
  return rasterToFloat(fitTo(rgb, shape), shape[2]);
}

/** Resizes an RGB raster to `[H, W]` (no-op when it already is). */
function fitTo(img: RasterImage, [h, w]: ImageShape3): RasterImage {
  if (img.width === w && img.height === h) return img;
  return h === w ? resizeShorterAndCenterCrop(img, h) : resizeImage(img, w, h);
}

/** RGB bytes → `channels` floats in [0,1] (1: grey; a grey upload decoded to R = G = B keeps its exact value). */
function rasterToFloat(img: RasterImage, channels: number): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const r = d[3 * p] as number;
    const g = d[3 * p + 1] as number;
    const b = d[3 * p + 2] as number;
    if (channels === 1) {
      out[p] = (r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b)) / 255;
    } else {
      for (let c = 0; c < channels; c++) out[p * channels + c] = (c < 3 ? (d[3 * p + c] as number) : 255) / 255;
    }
  }
  return out;
}

/**
 * Parses a `shape=N,H,W,C` query value and checks it against the served task's image shape.
 * @throws ConfigError when it is not four positive integers; ShapeError when `[H, W, C]` differs from `expected`.
 */
export function parseRawShape(value: unknown, expected: ImageShape3, maxImages: number): [number, number, number, number] {
  const parts = typeof value === 'string' ? value.split(',').map((s) => Number(s.trim())) : [];
  if (parts.length !== 4 || !parts.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ConfigError(
      `Raw float32 input needs ?shape=N,H,W,C (four positive integers), got ${JSON.stringify(value ?? null)}. ` +
        `This prompt takes images of [H, W, C] = [${expected.join(', ')}].`,
      { field: 'shape', value },
    );
  }
  const [n, h, w, c] = parts as [number, number, number, number];
  if (h !== expected[0] || w !== expected[1] || c !== expected[2]) {
    throw new ShapeError(
      `Raw input shape [${parts.join(', ')}] does not match this prompt's images [N, ${expected.join(', ')}].`,
      { expected: [null, ...expected], actual: parts },
    );
  }
  if (n > maxImages) {
    throw new ConfigError(`Raw input has ${n} images; at most ${maxImages} per request are accepted.`, { field: 'shape', value: n, max: maxImages });
  }
  return [n, h, w, c];
}

/**
 * Reads raw little-endian float32 NHWC pixels of `shape` from a request body and checks every value is finite and
 * in [0, 1] (images, before the host's own normalisation).
 * @throws ShapeError when the byte count is not N·H·W·C·4; NonFiniteError for NaN/±Inf; ConfigError out of [0, 1].
 */
export function parseRawPixels(body: Uint8Array, shape: readonly [number, number, number, number]): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (body.byteLength !== count * 4) {
    throw new ShapeError(
      `Raw input of shape [${shape.join(', ')}] needs ${count * 4} bytes (float32), got ${body.byteLength}.`,
      { expected: count * 4, actual: body.byteLength },
    );
  }
  const copy = new Uint8Array(body); // aligned copy
  const values = new Float32Array(copy.buffer, 0, count);
  for (let i = 0; i < count; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      throw new NonFiniteError(`Raw input holds ${v} at flat index ${i}; pixels must be finite numbers in [0, 1].`, { index: i, value: v });
    }
    if (v < 0 || v > 1) {
      throw new ConfigError(`Raw input holds ${v} at flat index ${i}; pixels must be in [0, 1] (divide bytes by 255).`, {
        field: 'body',
        index: i,
        value: v,
      });
    }
  }
  return values;
}
