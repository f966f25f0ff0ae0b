import type * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { defaultAddonPath, loadNativeAddon, type NativeAddon } from '@promptkd/native-kernels';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';

/** Whether the addon is built (CI builds it in `.ci/run`; without OpenBLAS headers it cannot exist and native suites skip). */
export const nativeBuilt = existsSync(process.env.PROMPTKD_NATIVE_ADDON ?? defaultAddonPath());

/** A tensor's shape and values, for comparing results across backends. */
export type Vals = { shape: number[]; values: Float32Array };
export const vals = (t: tf.Tensor): Vals => ({ shape: t.shape, values: t.dataSync() as Float32Array });

/**
 * Registers the native kernels on 2 threads before the enclosing `describe`'s tests and removes them after;
 * returns a getter for the addon.
 */
export function withNativeKernels(): () => NativeAddon {
  let addon: NativeAddon | undefined;
  beforeAll(() => {
    addon = loadNativeAddon();
    addon.setThreads(2);
    registerNativeKernels(addon);
  });
  afterAll(() => {
    unregisterNativeKernels();
  });
  return () => addon as NativeAddon;
}
