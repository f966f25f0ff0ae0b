import * as tf from '@tensorflow/tfjs';
import type { ImageBank } from '@promptkd/data-free';
import { renderImageGridPng } from '@promptkd/visual-prompt';

/**
 * A picture of a synthetic image bank: one row per class (the label the image was synthesised for), its last
 * `perClass` images — what the prompt was trained on, next to what the source was trained on. PNG bytes, or
 * undefined for an empty bank.
 *
 * @param numClasses — the source's classes K_B (rows).
 */
export function renderBankPng(bank: ImageBank, numClasses: number, options: { perClass?: number; scale?: number } = {}): Uint8Array | undefined {
  const perClass = options.perClass ?? 12;
  const labels = bank.labels;
  if (labels.length === 0) return undefined;
  const rows = Array.from({ length: numClasses }, (_, k) => {
    const indices = labels.flatMap((l, i) => (l === k ? [i] : [])).slice(-perClass);
    return indices.length ? bank.get(indices) : (tf.zeros([0, bank.height, bank.width, bank.channels]) as tf.Tensor4D);
  });
  try {
    return renderImageGridPng(rows, { scale: options.scale ?? 2 });
  } finally {
    tf.dispose(rows);
  }
}
