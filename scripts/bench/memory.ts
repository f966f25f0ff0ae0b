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

interface WasmModule {
  _malloc(n: number): number;
  _free(p: number): void;
}

/**
 * Live bytes the wasm backend has allocated on its heap (tensor data: every `_malloc`/`_free` of the backend) and
 * their high-water mark since {@link WasmAllocations.reset}. Unlike tfjs's own byte count, data shared by several
 * tensors (reshapes, the clones the tape saves) counts once.
 */
export class WasmAllocations {
  private live = 0;
  private high = 0;
  private readonly sizes = new Map<number, number>();

  /** Wraps the wasm backend's allocator; undefined when the active backend is not wasm. */
  static install(): WasmAllocations | undefined {
    const wasm = (tf.backend() as unknown as { wasm?: WasmModule }).wasm;
    if (!wasm || typeof wasm._malloc !== 'function') return undefined;
    const meter = new WasmAllocations();
    // Emscripten's exports start as stubs that replace themselves on their first call: resolve them first.
    wasm._free(wasm._malloc(8));
    const malloc = wasm._malloc.bind(wasm);
    const free = wasm._free.bind(wasm);
    wasm._malloc = (n: number) => {
      const p = malloc(n);
      meter.sizes.set(p >>> 0, n);
      meter.live += n;
      if (meter.live > meter.high) meter.high = meter.live;
      return p;
    };
    wasm._free = (p: number) => {
      const n = meter.sizes.get(p >>> 0);
      if (n !== undefined) {
        meter.sizes.delete(p >>> 0);
        meter.live -= n;
      }
      free(p);
    };
    return meter;
  }

  /** Starts a new high-water mark at the current live bytes. */
  reset(): void {
    this.high = this.live;
  }

  /** Highest live bytes since the last reset, MiB. */
  peakMiB(): number {
    return this.high / MiB;
  }
}
