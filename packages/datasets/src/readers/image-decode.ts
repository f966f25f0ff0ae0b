import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { DataFormatError } from '@promptkd/core';
import { formatError } from './format-error.js';
import { decodePpm, MAX_IMAGE_SIDE, type RasterImage } from './ppm.js';

/** Image formats recognised by their first bytes. */
export type ImageFormat = 'png' | 'jpeg' | 'ppm';

/** Detects PNG / JPEG / binary PPM-PGM from the magic bytes. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 2 && bytes[0] === 0x50 && (bytes[1] === 0x36 || bytes[1] === 0x35)) return 'ppm';
  return undefined;
}

function toRgb(src: ArrayLike<number>, pixels: number, channels: number, scale16: boolean): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const g = (k: number) => {
      const v = src[p * channels + k] as number;
      return scale16 ? Math.round(v / 257) : v;
    };
    if (channels >= 3) {
      out[3 * p] = g(0);
      out[3 * p + 1] = g(1);
      out[3 * p + 2] = g(2);
    } else {
      const v = g(0);
      out[3 * p] = v;
      out[3 * p + 1] = v;
      out[3 * p + 2] = v;
    }
  }
  return out;
}

/**
 * Decodes a PNG (fast-png), JPEG (jpeg-js) or binary PPM/PGM into 8-bit RGB (alpha dropped, grey replicated,
 * palettes expanded, 16-bit scaled). Anything else or any decoder failure raises a DataFormatError naming `file`.
 */
export function decodeImageRgb(bytes: Uint8Array, file: string): RasterImage {
  const format = sniffImageFormat(bytes);
  if (!format) throw formatError(file, 'is not a PNG, JPEG or binary PPM image (unknown magic bytes)');
  try {
    if (format === 'ppm') {
      const img = decodePpm(bytes, file);
      return img.channels === 3 ? img : { ...img, channels: 3, data: toRgb(img.data, img.width * img.height, 1, false) };
    }
    if (format === 'png') {
      const png = decodePng(bytes, { checkCrc: true });
      if (png.width > MAX_IMAGE_SIDE || png.height > MAX_IMAGE_SIDE) throw new Error(`size ${png.width}x${png.height} too large`);
      let data: ArrayLike<number> = png.data;
      let channels = png.channels;
      if (png.palette) {
        const pal = png.palette;
        const idx = png.data;
        const expanded = new Uint8Array(png.width * png.height * 3);
        for (let p = 0; p < png.width * png.height; p++) {
          const c = pal[idx[p] as number];
          if (!c) throw new Error(`palette index ${idx[p]} out of range`);
          expanded[3 * p] = c[0] as number;
          expanded[3 * p + 1] = c[1] as number;
          expanded[3 * p + 2] = c[2] as number;
        }
        data = expanded;
        channels = 3;
      } else if (png.depth < 8) {
        throw new Error(`${png.depth}-bit non-palette PNGs are not supported`);
      }
      if (data.length < png.width * png.height * channels) throw new Error('decoded pixel buffer is too short');
      return { width: png.width, height: png.height, channels: 3, data: toRgb(data, png.width * png.height, channels, png.depth === 16) };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 64, maxMemoryUsageInMB: 512 });
    const n = img.width * img.height;
    const channels = img.data.length / n;
    if (!Number.isInteger(channels) || channels < 1) throw new Error('decoded pixel buffer has an unexpected size');
    return { width: img.width, height: img.height, channels: 3, data: channels === 3 ? img.data : toRgb(img.data, n, channels, false) };
  } catch (e) {
    if (e instanceof DataFormatError) throw e;
    throw formatError(file, `cannot be decoded as ${format.toUpperCase()} (${e instanceof Error ? e.message : String(e)})`, undefined, e);
  }
}
