/**
 * Peak-memory probes of the bench: the process's resident-set high-water mark (Linux `VmHWM`, reset per workload
 * through `/proc/self/clear_refs`; elsewhere the process-lifetime `maxRSS`) and the wasm heap's size (it only grows,
 * so its size is the high-water mark of the heap's extent).
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync, writeFileSync } from 'node:fs';

const MiB = 1024 * 1024;

/** Resets the kernel's RSS high-water mark of this process (Linux ≥ 4.0); false where that is not possible. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** The process's RSS high-water mark in MiB (since the last {@link resetPeakRss}, or since start). */
export function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Size of the wasm backend's heap in MiB (undefined on other backends). */
export function wasmHeapMiB(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const bytes = backend.wasm?.HEAPU8?.buffer.byteLength;
  return bytes === undefined ? undefined : bytes / MiB;
}

export const toMiB = (bytes: number): number => bytes / MiB;
