import type { RasterImage } from './ppm.js';

/** Separable resampling weights of one axis (PIL-style antialiased bilinear: triangle filter widened when shrinking). */
function axisWeights(inSize: number, outSize: number, start: number, length: number): { lo: Int32Array; w: Float32Array[] } {
  const scale = length / outSize;
  const support = Math.max(scale, 1);
  const lo = new Int32Array(outSize);
  const w: Float32Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = start + (o + 0.5) * scale;
    const a = Math.max(start, Math.floor(center - support + 0.5));
    const b = Math.min(start + length, Math.floor(center + support + 0.5));
    const ws = new Float32Array(Math.max(b - a, 1));
    let sum = 0;
    for (let i = a; i < b; i++) {
      const x = Math.abs((i + 0.5 - center) / support);
      const v = x < 1 ? 1 - x : 0;
      ws[i - a] = v;
      sum += v;
    }
    if (sum > 0) for (let k = 0; k < ws.length; k++) ws[k] = (ws[k] as number) / sum;
    else ws[0] = 1;
    lo[o] = Math.min(a, inSize - 1);
    w.push(ws);
  }
  return { lo, w };
}

/** A crop window in pixels. */
export interface PixelBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Bilinear resize of an 8-bit image (optionally of a crop window) to `outWidth`×`outHeight`, antialiased when
 * shrinking like PIL's `Image.resize(BILINEAR)` (what torchvision's `Resize` does on PIL images). Horizontal
 * pass, then vertical, float intermediate, rounded at the end.
 */
export function resizeImage(img: RasterImage, outWidth: number, outHeight: number, box?: PixelBox): RasterImage {
  const b = box ?? { x: 0, y: 0, width: img.width, height: img.height };
  const c = img.channels;
  if (!box && outWidth === img.width && outHeight === img.height) return img;
  const hx = axisWeights(img.width, outWidth, b.x, b.width);
  const vy = axisWeights(img.height, outHeight, b.y, b.height);
  // horizontal pass over the rows the box covers
  const tmp = new Float32Array(b.height * outWidth * c);
  for (let y = 0; y < b.height; y++) {
    const row = (b.y + y) * img.width;
    for (let o = 0; o < outWidth; o++) {
      const ws = hx.w[o] as Float32Array;
      const x0 = hx.lo[o] as number;
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let k = 0; k < ws.length; k++) s += (ws[k] as number) * (img.data[(row + x0 + k) * c + ch] as number);
        tmp[(y * outWidth + o) * c + ch] = s;
      }
    }
  }
  const out = new Uint8Array(outHeight * outWidth * c);
  for (let o = 0; o < outHeight; o++) {
    const ws = vy.w[o] as Float32Array;
    const y0 = (vy.lo[o] as number) - b.y;
    for (let x = 0; x < outWidth * c; x++) {
      let s = 0;
      for (let k = 0; k < ws.length; k++) s += (ws[k] as number) * (tmp[(y0 + k) * outWidth * c + x] as number);
      out[o * outWidth * c + x] = Math.min(255, Math.max(0, Math.round(s)));
    }
  }
  return { width: outWidth, height: outHeight, channels: c, data: out };
}

/** Resize so the shorter side is `size`, then centre-crop `size`×`size` (torchvision `Resize(s)` + `CenterCrop(s)`). */
export function resizeShorterAndCenterCrop(img: RasterImage, size: number): RasterImage {
  // Equivalent single pass: crop the centred square of the original (in source pixels), resize it to size×size.
  const side = Math.min(img.width, img.height);
  const box = { x: Math.floor((img.width - side) / 2), y: Math.floor((img.height - side) / 2), width: side, height: side };
  return resizeImage(img, size, size, box);
}
