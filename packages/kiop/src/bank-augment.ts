import * as tf from '@tensorflow/tfjs';
import { kiopTransform } from '@promptkd/datasets';
import type { Augment } from './ports.js';

/**
 * How a bank's images are re-read for knowledge storing (kiop-spec §3.2 "Image data bank"): the reference
 * reloads bank PNGs through the dataset's train transform. For CIFAR that is crop + flip. For MNIST/Fashion-MNIST
 * the RGB bank images become grey: the reference folds the 9 channels its transform produces back to the mean of
 * R, G and B, replicated 3× — the domain the source model was trained on. SVHN/GTSRB: unchanged.
 */
export function bankAugment(dataset: string): Augment | undefined {
  switch (dataset) {
    case 'mnist':
    case 'fashionMnist':
      return (x) => tf.tidy(() => tf.tile(tf.mean(x, 3, true), [1, 1, 1, 3]) as tf.Tensor4D);
    case 'cifar10':
    case 'cifar100':
      return (x, rng) => kiopTransform(dataset, 'train')(x, rng);
    default:
      return undefined;
  }
}
