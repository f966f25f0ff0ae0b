import * as tf from '@tensorflow/tfjs';
import { tileGradConfig } from './tile-grad.js';

/** Gradients promptkd replaces on every backend (same values, fewer kernels); one file per gradient. */
const GRADIENTS: readonly tf.GradConfig[] = [tileGradConfig];

const replaced = new Map<string, tf.GradConfig>();

/** Registers promptkd's gradients in place of tfjs's; idempotent; returns the kernel names. */
export function registerGradientOverrides(): string[] {
  for (const g of GRADIENTS) {
    if (replaced.has(g.kernelName)) continue;
    const stock = tf.getGradient(g.kernelName);
    if (!stock) continue;
    replaced.set(g.kernelName, stock);
    tf.registerGradient(g);
  }
  return [...replaced.keys()];
}

/** Puts tfjs's gradients back. */
export function unregisterGradientOverrides(): void {
  for (const stock of replaced.values()) tf.registerGradient(stock);
  replaced.clear();
}
