import { ConfigError } from '@promptkd/core';
import { greyToRgbTransform } from './grey-to-rgb.js';
import { horizontalFlipTransform } from './horizontal-flip.js';
import { randomCropTransform } from './random-crop.js';
import { randomResizedCropTransform } from './random-resized-crop.js';
import { resizeTransform } from './resize.js';
import { compose, type Transform } from './transform.js';

/**
 * The KiOP reference preprocessing (kiop-spec §1.4) as batch transforms producing 32×32×3 images in [0,1].
 * Normalisation is NOT included: it belongs to the model (`ClassifierModel.normalization`).
 * - mnist / fashionMnist: resize 28→32 bilinear, grey→3 channels (train = test);
 * - cifar10 / cifar100 train: random crop 32 with padding 4, horizontal flip; test: identity;
 * - svhn, gtsrb: identity (GTSRB is resized to 32×32 when loaded).
 */
export function kiopTransform(dataset: string, split: 'train' | 'test'): Transform {
  switch (dataset) {
    case 'mnist':
    case 'fashionMnist':
      return compose(resizeTransform([32, 32]), greyToRgbTransform);
    case 'cifar10':
    case 'cifar100':
      return split === 'train' ? compose(randomCropTransform({ padding: 4 }), horizontalFlipTransform(0.5)) : (x) => x.clone();
    case 'svhn':
    case 'gtsrb':
      return (x) => x.clone();
    default:
      throw new ConfigError(`kiopTransform: no KiOP preprocessing for '${dataset}'.`, { field: 'dataset' });
  }
}

/**
 * The KDP/CODA-Prompt preprocessing (kdp-spec §2) at output side `size` (224 in the paper):
 * train = RandomResizedCrop(size) + horizontal flip; test = bilinear resize to `size`. No normalisation.
 */
export function kdpTransform(split: 'train' | 'test', size = 224): Transform {
  return split === 'train'
    ? compose(randomResizedCropTransform({ size: [size, size] }), horizontalFlipTransform(0.5))
    : resizeTransform([size, size]);
}
