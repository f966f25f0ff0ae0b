import type * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { defaultAddonPath, loadNativeAddon, type NativeAddon } from '@promptkd/native-kernels';
import { nativeKernelsActive, registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';

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

/**
 * Registers the native kernels, before the enclosing `describe`'s tests, on a copy of the addon that has only
 * `keep`'s functions (all of them when omitted) and counts the calls of `counted`'s in `calls`, so a test can tell
 * a native run from a fallback; afterwards it restores whatever was registered before. Returns a getter for the
 * real addon.
 */
export function withCountingNativeKernels(counted: readonly string[], calls: Record<string, number>, keep?: readonly string[]): () => NativeAddon {
  let addon: NativeAddon | undefined;
  let wasActive = false;
  beforeAll(() => {
    const real = loadNativeAddon();
    addon = real;
    real.setThreads(2);
    wasActive = nativeKernelsActive();
    unregisterNativeKernels();
    const counting: Record<string, unknown> = keep ? Object.fromEntries(keep.map((k) => [k, real[k]])) : { ...real };
    for (const k of counted) {
      const f = real[k] as (...a: unknown[]) => unknown;
      counting[k] = (...a: unknown[]) => {
        calls[k] = (calls[k] ?? 0) + 1;
        return f(...a);
      };
    }
    registerNativeKernels(counting as unknown as NativeAddon);
  });
  afterAll(() => {
    unregisterNativeKernels();
    if (wasActive && addon) registerNativeKernels(addon);
  });
  return () => addon as NativeAddon;
}
