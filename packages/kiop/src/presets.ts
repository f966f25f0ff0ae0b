import type { KiopConfig } from './config.js';

const faithful = { hostBnTrainMode: false, preservationKl: 'forward', normalization: 'perModel' } as const;

/**
 * Presets are data. `paper` holds the reference hyper-parameters (kiop-spec §1.3; for GPU users);
 * `cpu` is a meaningful overnight CPU run (kiop-spec §7.3); `demo` is the README's main job;
 * `smoke` is for tests (seconds).
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
    fidelity: faithful,
  },
  cpu: {
    epochs: 20, kdSteps: 100, batchSize: 32, promptSizes: [32, 36, 64],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1,
    synthesis: {
      gSteps: 50, roundsPerEpoch: 1, lrG: 0.01, nz: 256, ngf: 64, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 4096, nNeg: 256, headHidden: 256, headOut: 256,
    },
    fidelity: faithful,
  },
  demo: {
    epochs: 6, kdSteps: 30, batchSize: 32, promptSizes: [32, 36, 48],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1,
    synthesis: {
      gSteps: 15, roundsPerEpoch: 1, lrG: 0.01, nz: 64, ngf: 32, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 2048, nNeg: 256, headHidden: 128, headOut: 128,
    },
    fidelity: faithful,
  },
  smoke: {
    epochs: 2, kdSteps: 3, batchSize: 8, promptSizes: [32, 36, 48],
    lr: 0.8, momentum: 0.9, weightDecay: 1e-4, temperature: 20, alpha: 1, beta: 1,
    labelMapping: 'random', vanillaLr: 0.1,
    synthesis: {
      gSteps: 3, roundsPerEpoch: 1, lrG: 0.01, nz: 16, ngf: 8, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crT: 0.6,
      bankCapacity: 64, nNeg: 16, headHidden: 32, headOut: 16,
    },
    fidelity: faithful,
  },
};
