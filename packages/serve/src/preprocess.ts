import { createRegistry, Rng, type Registry } from '@promptkd/core';
import { kiopTransform, type Transform } from '@promptkd/datasets';

/**
 * Test-time preprocessings a served prompt can name (`extra.serve.source.preprocess`): given the source dataset,
 * the batch transform from its [0,1] images (at `imageShape`) to the prompt's input. Normalisation is not part of
 * it: it belongs to the host model.
 */
export const preprocessRegistry: Registry<(dataset: string) => Transform> = createRegistry('preprocessing');

preprocessRegistry.register('kiop', {
  description: "the KiOP reference test transform of the source dataset (MNIST-like: resize 28→32 bilinear, grey→RGB; CIFAR/SVHN/GTSRB: identity)",
  paper: { citation: 'Li et al., ECCV 2024', title: 'Encapsulating Knowledge in One Prompt', url: 'https://arxiv.org/abs/2407.11902' },
  create: (dataset) => kiopTransform(dataset, 'test'),
});

preprocessRegistry.register('identity', {
  description: 'none: the images already are the prompt input',
  create: () => (x) => x.clone(),
});

/** A fixed RNG for the (deterministic) test transforms, which take one by contract. */
export const PREPROCESS_RNG = Rng.fromSeed(0);
