import type { Synthesizer } from '@promptkd/core';
import type { ImageStream, ResumableSynthesizer } from './ports.js';

/** Seed for epoch `epoch` of a run with seed `seed` (splitmix-style mixing; distinct per component). */
export function epochSeed(seed: number, epoch: number, component: number): number {
  let z = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(component + 1, 0xc2b2ae35)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d);
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
  return (z ^ (z >>> 16)) >>> 1;
}

/** Reseeds streams and synthesizers from one base seed, one derived seed each. */
export function reseedAll(seed: number, streams: readonly (ImageStream | undefined)[], synthesizers: readonly Synthesizer[]): void {
  let k = 0;
  for (const s of streams) s?.reseed?.(epochSeed(seed, 0, k++));
  for (const s of synthesizers) (s as Synthesizer & ResumableSynthesizer).reseed?.(epochSeed(seed, 0, k++));
}
