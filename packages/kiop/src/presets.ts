import type { KiopConfig } from './config.js';

/**
 * The host's BatchNorm runs on batch statistics, as in the reference code (kiop-spec §6.1), without updating its
 * running statistics; measured on the demo pair it reprograms far better than eval mode (apps/kiop-bench/RESULTS.md,
 * "Host BatchNorm mode"). `hostBnTrainMode: false` runs the host in eval mode.
 */
const reference = { hostBnTrainMode: true, preservationKl: 'forward', normalization: 'perModel' } as const;
/** Eval-mode host: the tests' smoke preset, whose prompts the serving tests load without BN statistics. */
const evalHost = { ...reference, hostBnTrainMode: false } as const;

/**
 * Presets are data. `paper` holds the reference hyper-parameters (kiop-spec §1.3; for GPU users);
 * `cpu` is the CPU study (one pair, four variants and the real-data reference: 48 min on 2 cores); `demo` is the
 * README's main job (12.9 min on 2 cores from scratch with the built-in kernels at 4233e93; 14.9–16.0 min on slower machines);
 * `smoke` is for tests (seconds; its diagnostics read 32 images instead of 256).
 * `cpu` and `demo` were budgeted from measurements (apps/kiop-bench/RESULTS.md): a 64-px canvas, two synthesis
 * rounds per epoch with a narrower generator (ngf 32) and fewer generator iterations than the paper's 200, and the
 * host's BatchNorm on batch statistics. The paper's τ = 20 stays: on the demo pair KiOP-B reached 15.9 % Acc.B at
 * τ = 20 and 13.7 % at τ = 4 (the real-data reference: 20.1 % and 23.8 %).
 */
export const kiopPresets: Record<'paper' | 'cpu' | 'demo' | 'smoke', Omit<KiopConfig, 'variant' | 'seed'>> = {
  paper: {
    epochs: 100, kdSteps: 400, batchSize: 128, promptSizes: [32, 36, 128],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1,
    synthesis: {
      gSteps: 200, roundsPerEpoch: 1, lrG: 0.01, nz: 256, ngf: 64, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 40960, nNeg: 4096, headHidden: 'feature', headOut: 256,
    },
    fidelity: reference,
  },
  cpu: {
    epochs: 20, kdSteps: 100, batchSize: 32, promptSizes: [32, 36, 64],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1,
    synthesis: {
      gSteps: 50, roundsPerEpoch: 2, lrG: 0.01, nz: 256, ngf: 32, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 4096, nNeg: 256, headHidden: 256, headOut: 256,
    },
    fidelity: reference,
  },
  demo: {
    epochs: 6, kdSteps: 80, batchSize: 32, promptSizes: [32, 36, 64],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1,
    synthesis: {
      gSteps: 30, roundsPerEpoch: 2, lrG: 0.01, nz: 256, ngf: 32, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 2048, nNeg: 256, headHidden: 128, headOut: 128,
    },
    fidelity: reference,
  },
  smoke: {
    epochs: 2, kdSteps: 3, batchSize: 8, promptSizes: [32, 36, 48],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1, diagnosticImages: 32,
    synthesis: {
      gSteps: 3, roundsPerEpoch: 1, lrG: 0.01, nz: 16, ngf: 8, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 64, nNeg: 16, headHidden: 32, headOut: 16,
    },
    fidelity: evalHost,
  },
};

/** A preset name of {@link kiopPresets}. */
export type KiopPresetName = keyof typeof kiopPresets;
