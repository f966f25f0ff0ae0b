import type { NativeKernelFactory } from './heap.js';

/** Element-wise, reduction and layout kernels of the native addon, by tfjs kernel name. */
export const ELEMENTWISE_KERNELS: ReadonlyMap<string, NativeKernelFactory> = new Map<string, NativeKernelFactory>();
