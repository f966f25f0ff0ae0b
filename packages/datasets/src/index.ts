/*
 * @promptkd/datasets: the in-memory parts (decoders, transforms, loaders over arrays), for Node and browsers.
 * File readers, caches and downloads are in '@promptkd/datasets/node' (also this entry under the `node` condition).
 */
export {
  createImageDataset,
  imageSize,
  imageAt,
  classCounts,
  subset,
  filterClasses,
  takePerClass,
  concatDatasets,
} from './image-dataset.js';
export type { ImageDataset, ImageDatasetInit, DatasetSplits } from './image-dataset.js';

// Readers
export { formatError } from './readers/format-error.js';
export { gunzip, maybeGunzip, isGzip, inflateZlib, inflateRaw } from './readers/decompress.js';
export { parseIdx, idxToDataset, encodeIdx } from './readers/idx.js';
export type { IdxArray } from './readers/idx.js';
export { parseTar, encodeTar } from './readers/tar.js';
export type { TarEntry } from './readers/tar.js';
export { parseZip, encodeZip } from './readers/zip.js';
export type { ZipEntry } from './readers/zip.js';
export { tarTreeFromBytes, zipTreeFromBytes, mergeTrees } from './readers/file-tree.js';
export type { FileTree } from './readers/file-tree.js';
export { parseCifarBatch, encodeCifarBatch, cifarFromParts, CIFAR10_CLASSES } from './readers/cifar.js';
export type { CifarRecordLayout } from './readers/cifar.js';
export { parseMat, encodeMat, MI, MX } from './readers/mat-v5.js';
export type { MatArray, MatVariable } from './readers/mat-v5.js';
export { parseSvhnMat, SVHN_CLASSES } from './readers/svhn.js';
export { decodePpm, encodePpm, MAX_IMAGE_SIDE } from './readers/ppm.js';
export type { RasterImage } from './readers/ppm.js';
export { decodeImageRgb, sniffImageFormat } from './readers/image-decode.js';
export type { ImageFormat } from './readers/image-decode.js';
export { resizeImage, resizeShorterAndCenterCrop } from './readers/resize-image.js';
export type { PixelBox } from './readers/resize-image.js';
export { parseDelimited } from './readers/csv.js';
export { readGtsrb, GTSRB_NUM_CLASSES } from './readers/gtsrb.js';
export type { GtsrbOptions } from './readers/gtsrb.js';
export { readImageFolder, listImageFolder, decodeImagesToDataset, IMAGE_EXTENSIONS } from './readers/image-folder.js';
export type { ImageFolderOptions, LabelledPath, ResizeMode } from './readers/image-folder.js';
export { readImagenetR, parseCodaSplitYaml, imagenetRFallbackSplit, IMAGENET_R_FALLBACK_SEED } from './readers/imagenet-r.js';
export type { ImagenetROptions } from './readers/imagenet-r.js';

// Sources: what needs no file system (the loaders themselves are in './node.js')
export { OFFICIAL_FILES } from './sources/official-files.js';
export type { FetchLike, RemoteFile, DownloadOptions } from './sources/download.js';
export type { LoadOptions, Split } from './sources/load-options.js';
export { MNIST_CLASSES, FASHION_MNIST_CLASSES } from './sources/class-names.js';

// Transforms
export { compose } from './transforms/transform.js';
export type { Transform } from './transforms/transform.js';
export { resize, resizeTransform } from './transforms/resize.js';
export { greyToRgb, greyToRgbTransform } from './transforms/grey-to-rgb.js';
export { normalize, denormalize, normalizeTransform, NORMALIZATIONS } from './transforms/normalize.js';
export { randomCrop, cropAt, randomCropTransform } from './transforms/random-crop.js';
export type { RandomCropOptions } from './transforms/random-crop.js';
export { randomHorizontalFlip, flipWhere, horizontalFlipTransform } from './transforms/horizontal-flip.js';
export {
  randomResizedCrop,
  sampleResizedCropBox,
  cropAndResizeBoxes,
  randomResizedCropTransform,
} from './transforms/random-resized-crop.js';
export type { RandomResizedCropOptions, CropBox } from './transforms/random-resized-crop.js';
export { kiopTransform, kdpTransform } from './transforms/presets.js';

// Loaders
export { toTensors } from './loaders/to-tensor.js';
export { toTensorsAt } from './loaders/to-tensors-at.js';
export type { TensorImages } from './loaders/to-tensors-at.js';
export { BatchLoader, batches, evalBatches } from './loaders/batch-loader.js';
export type { BatchOptions, Batch, LoaderState } from './loaders/batch-loader.js';
export { classIncrementalSplit } from './loaders/class-incremental.js';
export type { ClassIncrementalSplit, ClassIncrementalOptions, IncrementalTask } from './loaders/class-incremental.js';
export { classIncrementalStream, disposeTensorTasks } from './loaders/class-incremental-stream.js';
export type { ClassIncrementalStream, ClassIncrementalStreamOptions, TensorIncrementalTask } from './loaders/class-incremental-stream.js';
