import { formatError } from './format-error.js';

/** A decoded raster: `channels` interleaved uint8 samples per pixel, row-major. */
export interface RasterImage {
  readonly width: number;
  readonly height: number;
  /** 1 (grey) or 3 (RGB). */
  readonly channels: number;
  readonly data: Uint8Array;
}

/** Largest side accepted by the image decoders (guards against absurd header values). */
export const MAX_IMAGE_SIDE = 1 << 14;

/**
 * Decodes a binary Netpbm image: P6 (RGB) or P5 (grey), maxval 1..65535 (16-bit samples are big-endian and
 * scaled to 8 bits), `#` comments allowed in the header. GTSRB ships its images as P6.
 */
export function decodePpm(bytes: Uint8Array, file: string): RasterImage {
  let at = 0;
  const token = (): string => {
    for (;;) {
      while (at < bytes.length && /\s/.test(String.fromCharCode(bytes[at] as number))) at++;
      if (bytes[at] === 0x23) {
        while (at < bytes.length && bytes[at] !== 0x0a && bytes[at] !== 0x0d) at++;
        continue;
      }
      break;
    }
    const start = at;
    while (at < bytes.length && at - start < 16 && !/\s/.test(String.fromCharCode(bytes[at] as number))) at++;
    return new TextDecoder('latin1').decode(bytes.subarray(start, at));
  };
  const magic = token();
  if (magic !== 'P6' && magic !== 'P5') throw formatError(file, `not a binary PPM/PGM image (magic '${magic.slice(0, 4)}', expected P6 or P5)`);
  const nums = [token(), token(), token()];
  if (!nums.every((t) => /^\d+$/.test(t))) throw formatError(file, `malformed PPM header (${nums.join(' ')})`);
  const [width, height, maxval] = nums.map(Number) as [number, number, number];
  if (width <= 0 || height <= 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw formatError(file, `PPM size ${width}x${height} is outside 1..${MAX_IMAGE_SIDE}`);
  }
  if (maxval <= 0 || maxval > 65535) throw formatError(file, `PPM maxval ${maxval} is outside 1..65535`);
  at++; // exactly one whitespace byte after maxval
  const channels = magic === 'P6' ? 3 : 1;
  const bps = maxval > 255 ? 2 : 1;
  const need = width * height * channels * bps;
  if (bytes.length - at < need) throw formatError(file, `PPM pixel data is ${Math.max(0, bytes.length - at)} bytes, need ${need} (truncated)`);
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) {
    const v = bps === 2 ? ((bytes[at + 2 * i] as number) << 8) | (bytes[at + 2 * i + 1] as number) : (bytes[at + i] as number);
    data[i] = maxval === 255 ? v : Math.round((Math.min(v, maxval) * 255) / maxval);
  }
  return { width, height, channels, data };
}

/** Encodes an 8-bit P6/P5 image (tests and tooling). */
export function encodePpm(img: RasterImage): Uint8Array {
  const head = new TextEncoder().encode(`${img.channels === 3 ? 'P6' : 'P5'}\n${img.width} ${img.height}\n255\n`);
  const out = new Uint8Array(head.length + img.data.length);
  out.set(head);
  out.set(img.data, head.length);
  return out;
}
