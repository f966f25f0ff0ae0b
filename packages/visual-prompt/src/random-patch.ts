import { ConfigError, Rng, type RngState } from '@promptkd/core';
import { FixedPatch, type PatchConfig } from './fixed-patch.js';

/**
 * Bahng et al.'s RandomPatchPrompter: the learnable p×p patch is added at a random position, drawn anew for
 * every call (the whole batch shares one position, as in the reference). The placement is **seeded**
 * (`seed` in the config; the reference used unseeded `np.random.choice`), so runs are reproducible and the RNG
 * position is saved in prompt artifacts ({@link RandomPatch.getState}).
 * Parameter `patch` `[p, p, C]`. Effective = stored = C·p².
 *
 * Paper: Bahng et al., "Exploring Visual Prompts for Adapting Large-Scale Models" (2022).
 */
export class RandomPatch extends FixedPatch {
  override readonly key: string = 'randomPatch';
  private rng: Rng;

  constructor(config: PatchConfig) {
    super(config, 'randomPatch');
    // Placement stream independent of the initialisation stream.
    this.rng = Rng.fromSeed(this.config.seed).fork();
  }

  protected override position(): [number, number] {
    const max = this.config.size - this.config.patchSize;
    return [this.rng.int(0, max), this.rng.int(0, max)];
  }

  override getState(): Record<string, unknown> {
    return { rng: this.rng.getState() };
  }

  override setState(state: Record<string, unknown> | undefined): void {
    if (state === undefined) return;
    const rng = state.rng as RngState | undefined;
    if (!rng) throw new ConfigError("randomPatch state needs an 'rng' field (from getState()).", { field: 'rng' });
    this.rng = Rng.fromState(rng);
  }
}
