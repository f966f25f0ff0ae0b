import * as tf from '@tensorflow/tfjs';
import { encode } from 'fast-png';
import { ConfigError, ShapeError } from '@promptkd/core';
import type { VisualPrompt } from './prompt.js';

/** Options of {@link renderPromptPng}. */
export interface RenderPromptOptions {
  /**
   * An example image `[H, W, C]` in [0,1] at the prompt's input size. When given, the PNG has two panels side by
   * side: the prompt alone, and the prompt composited over the example (KiOP Fig. 3).
   */
  readonly example?: tf.Tensor3D;
  /** Integer nearest-neighbour upscaling factor (default 1). */
  readonly scale?: number;
  /** How the part the prompt does not touch is shown in the prompt-alone panel (default `'transparent'`). */
  readonly centre?: 'transparent' | 'grey';
  /** Gap between the two panels in (unscaled) pixels, transparent (default 2). */
  readonly gap?: number;
}

/** RGBA pixels of one panel. */
interface Panel {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

function toByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v * 255)));
}

/** Converts `[H, W, C]` values in [0,1] and an `[H, W, 1]` alpha mask to RGBA bytes (C = 1 is shown grey). */
function panelFrom(values: Float32Array | Int32Array | Uint8Array, alpha: ArrayLike<number>, h: number, w: number, c: number, fill?: number): Panel {
  const rgba = new Uint8Array(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    const on = (alpha[i] as number) > 0.5;
    for (let k = 0; k < 3; k++) {
      const v = values[i * c + (c >= 3 ? k : 0)] as number;
      rgba[i * 4 + k] = on ? toByte(v) : fill ?? 0;
    }
    rgba[i * 4 + 3] = on || fill !== undefined ? 255 : 0;
  }
  return { width: w, height: h, rgba };
}

/**
 * Renders a prompt as PNG bytes (`fast-png`): the prompt alone (the untouched centre grey or transparent), and,
 * with `example`, the prompt composited over an example image, side by side — the "knowledge in one prompt" as a
 * picture. Absolute prompts (sigmoid rings) are shown as their pixel values clipped to [0,1]; additive prompts
 * (offsets) are contrast-normalised around grey: 0.5 + δ / (2·max|δ|).
 * The composite is `centrePad(example) + pattern` clipped to [0,1] (random patches show their last position).
 */
export function renderPromptPng(prompt: VisualPrompt, options: RenderPromptOptions = {}): Uint8Array {
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new ConfigError(`renderPromptPng: 'scale' must be a positive integer, got ${scale}.`, { field: 'scale' });
  }
  const gap = options.gap ?? 2;
  const [h, w, c] = prompt.outputShape;
  const { example } = options;
  if (example) {
    const [eh, ew, ec] = prompt.inputShape;
    if (example.rank !== 3 || example.shape[0] !== eh || example.shape[1] !== ew || example.shape[2] !== ec) {
      throw new ShapeError(
        `renderPromptPng: the example must be an image [${prompt.inputShape.join(', ')}] (the prompt's input), ` +
          `got [${example.shape.join(', ')}].`,
        { expected: prompt.inputShape, actual: example.shape },
      );
    }
  }
  const { alone, mask, composite } = tf.tidy(() => {
    const pattern = prompt.pattern();
    let shown: tf.Tensor3D = pattern.values;
    if (pattern.kind === 'additive') {
      const peak = tf.max(tf.abs(tf.mul(pattern.values, pattern.mask)));
      const denom = tf.maximum(tf.mul(peak, 2), 1e-12);
      shown = tf.add(0.5, tf.div(pattern.values, denom)) as tf.Tensor3D;
    }
    let comp: tf.Tensor3D | undefined;
    if (example) {
      const before = prompt.segments().reduce((a, s) => a + s.pad[0], 0);
      const [eh, ew] = prompt.inputShape;
      const padded = tf.pad(example, [[before, h - eh - before], [before, w - ew - before], [0, 0]]);
      comp = tf.clipByValue(tf.add(padded, tf.mul(pattern.values, pattern.mask)), 0, 1) as tf.Tensor3D;
    }
    return { alone: tf.clipByValue(shown, 0, 1), mask: pattern.mask, composite: comp };
  });
  const maskData = mask.dataSync();
  const panels: Panel[] = [
    panelFrom(alone.dataSync() as Float32Array, maskData, h, w, c, options.centre === 'grey' ? 128 : undefined),
  ];
  if (composite) panels.push(panelFrom(composite.dataSync() as Float32Array, new Float32Array(h * w).fill(1), h, w, c));
  tf.dispose([alone, mask, composite]);

  const totalW = panels.length * w + (panels.length - 1) * gap;
  const outW = totalW * scale;
  const outH = h * scale;
  const data = new Uint8Array(outW * outH * 4);
  panels.forEach((panel, p) => {
    const x0 = p * (w + gap);
    for (let y = 0; y < outH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < w * scale; x++) {
        const sx = Math.floor(x / scale);
        const src = (sy * w + sx) * 4;
        const dst = (y * outW + x0 * scale + x) * 4;
        data.set(panel.rgba.subarray(src, src + 4), dst);
      }
    }
  });
  return encode({ width: outW, height: outH, data, channels: 4, depth: 8 });
}

/** Options of {@link renderImageGridPng}. */
export interface RenderImageGridOptions {
  /** Integer nearest-neighbour upscaling factor (default 1). */
  readonly scale?: number;
  /** Gap between images in (unscaled) pixels, black (default 1). */
  readonly gap?: number;
}

/**
 * Renders rows of images as one PNG grid: row r holds the images of `rows[r]` (`[n, H, W, C]` in [0,1], C = 1 shown
 * grey), left-aligned; shorter rows leave black cells. For pictures of image banks (one row per class).
 */
export function renderImageGridPng(rows: readonly tf.Tensor4D[], options: RenderImageGridOptions = {}): Uint8Array {
  const scale = options.scale ?? 1;
  const gap = options.gap ?? 1;
  if (!Number.isInteger(scale) || scale < 1 || !Number.isInteger(gap) || gap < 0) {
    throw new ConfigError(`renderImageGridPng: 'scale' must be a positive and 'gap' a non-negative integer, got ${scale} and ${gap}.`, { field: 'scale' });
  }
  const first = rows.find((r) => r.shape[0] > 0);
  if (!first) throw new ShapeError('renderImageGridPng: no images to render.', { rows: rows.length });
  const [, h, w, c] = first.shape;
  for (const r of rows) {
    if (r.shape[0] > 0 && (r.shape[1] !== h || r.shape[2] !== w || r.shape[3] !== c)) {
      throw new ShapeError(`renderImageGridPng: every image must be [${h}, ${w}, ${c}], got [${r.shape.slice(1).join(', ')}].`, { actual: r.shape });
    }
  }
  const cols = Math.max(...rows.map((r) => r.shape[0]));
  const outW = (cols * (w + gap) - gap) * scale;
  const outH = (rows.length * (h + gap) - gap) * scale;
  const data = new Uint8Array(outW * outH * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  rows.forEach((row, r) => {
    const values = row.dataSync();
    for (let n = 0; n < row.shape[0]; n++) {
      for (let y = 0; y < h * scale; y++) {
        for (let x = 0; x < w * scale; x++) {
          const src = ((n * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c;
          const dst = ((r * (h + gap) * scale + y) * outW + n * (w + gap) * scale + x) * 4;
          for (let k = 0; k < 3; k++) data[dst + k] = toByte(values[src + (c >= 3 ? k : 0)] as number);
        }
      }
    }
  });
  return encode({ width: outW, height: outH, data, channels: 4, depth: 8 });
}
