import { Rng } from '@promptkd/core';

/**
 * Seeded N(0, std²) initial values (Box–Muller on the `@promptkd/core` RNG), identical on every backend.
 * Stands in for PyTorch's `torch.randn` in the additive prompters of Bahng et al.
 */
export function normalInit(size: number, seed: number, std = 1): Float32Array {
  const rng = Rng.fromSeed(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  return out;
}
