import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { ConfigError } from './errors.js';

/** Serializable RNG state, stored in checkpoints so a resumed run continues the same stream. */
export interface RngState {
  readonly algorithm: 'xoroshiro128plus';
  readonly state: readonly number[];
  /** The cached second Box–Muller sample, when one is pending. */
  readonly normalSpare?: number;
}

/**
 * A seeded, serialisable pseudo-random generator (xoroshiro128+ from `pure-rand`).
 * Used for data order, augmentation parameters and seeds handed to TensorFlow.js ops.
 */
export class Rng {
  private gen: JumpableRandomGenerator;
  private normalSpare: number | undefined;

  private constructor(gen: JumpableRandomGenerator) {
    this.gen = gen;
  }

  /** A generator seeded with an integer. */
  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new ConfigError(`RNG seed must be an integer, got ${seed}.`, { field: 'seed' });
    // Expand the seed with splitmix32 into a full 128-bit state: small seeds otherwise give
    // near-identical first outputs.
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) | 0;
    };
    const state: number[] = [next(), next(), next(), next()];
    if (!state.some((w) => w !== 0)) state[0] = 1;
    return new Rng(xoroshiro128plusFromState(state));
  }

  /** Restores a generator from {@link Rng.getState}. */
  static fromState(s: RngState): Rng {
    if (s.algorithm !== 'xoroshiro128plus' || !Array.isArray(s.state)) {
      throw new ConfigError(`Unsupported RNG state (algorithm '${String(s.algorithm)}').`, { field: 'rng' });
    }
    const rng = new Rng(xoroshiro128plusFromState(s.state));
    rng.normalSpare = s.normalSpare;
    return rng;
  }

  /** Continues from {@link Rng.getState} in place (for a generator others already hold, e.g. a loop's batch order). */
  setState(s: RngState): void {
    const other = Rng.fromState(s);
    this.gen = other.gen;
    this.normalSpare = other.normalSpare;
  }

  getState(): RngState {
    const state = [...this.gen.getState()];
    return this.normalSpare === undefined
      ? { algorithm: 'xoroshiro128plus', state }
      : { algorithm: 'xoroshiro128plus', state, normalSpare: this.normalSpare };
  }

  /** An independent child stream (jump-ahead), e.g. one per worker or per component. */
  fork(): Rng {
    const child = this.gen.clone();
    child.jump();
    this.gen.next();
    return new Rng(child);
  }

  /** Uniform float in [0, 1). */
  random(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  /** A 31-bit integer seed for TensorFlow.js random ops. */
  seed(): number {
    return uniformInt(this.gen, 0, 0x7fffffff);
  }

  /** Standard normal sample (Box–Muller). */
  normal(): number {
    if (this.normalSpare !== undefined) {
      const v = this.normalSpare;
      this.normalSpare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.normalSpare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = array[i] as T;
      array[i] = array[j] as T;
      array[j] = t;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
