import { ConfigError } from '@promptkd/core';
import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import type { FileTree } from './file-tree.js';
import { formatError } from './format-error.js';
import { decodeImageRgb } from './image-decode.js';
import { resizeImage, resizeShorterAndCenterCrop } from './resize-image.js';

/** File extensions read as images. */
export const IMAGE_EXTENSIONS = /\.(png|jpe?g|ppm|pgm)$/i;

/** How images are brought to a common size. */
export type ResizeMode = 'stretch' | 'centerCrop';

/** Options of {@link readImageFolder} and {@link decodeImagesToDataset}. */
export interface ImageFolderOptions {
  /** Output side. Omitted: every image must already have the same size (else a DataFormatError says to set it). */
  readonly imageSize?: number;
  /** `stretch` (default): resize to imageSize² ignoring aspect; `centerCrop`: shorter side → imageSize, centre crop. */
  readonly resize?: ResizeMode;
  /** Dataset name (default `imageFolder`). */
  readonly name?: string;
}

/** One image to load: a path inside a tree and its label. */
export interface LabelledPath {
  readonly path: string;
  readonly label: number;
}

/** Decodes the listed images (PNG/JPEG/PPM → RGB), resizes them and packs them into an {@link ImageDataset}. */
export function decodeImagesToDataset(
  tree: FileTree,
  items: readonly LabelledPath[],
  classNames: readonly string[],
  options: ImageFolderOptions = {},
): ImageDataset {
  const size = options.imageSize;
  if (size !== undefined && (!Number.isInteger(size) || size <= 0)) {
    throw new ConfigError(`imageSize must be a positive integer, got ${size}.`, { field: 'imageSize' });
  }
  let h = size ?? 0;
  let w = size ?? 0;
  let images = new Uint8Array(0);
  const labels = new Int32Array(items.length);
  items.forEach((item, i) => {
    const where = `${tree.where}!${item.path}`;
    let img = decodeImageRgb(tree.read(item.path), where);
    if (size !== undefined) {
      img = options.resize === 'centerCrop' ? resizeShorterAndCenterCrop(img, size) : resizeImage(img, size, size);
    } else if (i === 0) {
      h = img.height;
      w = img.width;
    } else if (img.height !== h || img.width !== w) {
      throw formatError(where, `is ${img.width}x${img.height} but earlier images are ${w}x${h}`, 'Pass imageSize to resize on load.');
    }
    if (i === 0) images = new Uint8Array(items.length * h * w * 3);
    images.set(img.data, i * h * w * 3);
    labels[i] = item.label;
  });
  if (items.length === 0) throw formatError(tree.where, 'contains no images (.png, .jpg, .jpeg, .ppm, .pgm)');
  return createImageDataset({
    name: options.name ?? 'imageFolder',
    images,
    labels,
    height: h,
    width: w,
    channels: 3,
    numClasses: classNames.length,
    classNames,
    source: tree.where,
  });
}

/**
 * The class-per-folder layout of torchvision's `ImageFolder`: `<root>/<class>/**.{png,jpg,jpeg,ppm,pgm}`.
 * Classes are the top-level folder names sorted; files are taken in sorted path order. A single folder
 * wrapping everything (as in an archive) is stripped. Returns the labelled paths, the class names and the tree
 * the paths are relative to, without decoding anything.
 */
export function listImageFolder(tree: FileTree): { items: LabelledPath[]; classNames: string[]; tree: FileTree } {
  let files = tree.paths().filter((p) => IMAGE_EXTENSIONS.test(p) && p.includes('/'));
  // An archive usually wraps everything in one folder (imagenet-r/<wnid>/x.jpg): strip it.
  const top = new Set(files.map((p) => p.slice(0, p.indexOf('/'))));
  if (top.size === 1 && files.every((p) => p.split('/').length >= 3)) {
    const cut = (files[0] as string).indexOf('/') + 1;
    files = files.map((p) => p.slice(cut));
    const inner = tree;
    const prefix = [...top][0] as string;
    tree = { where: inner.where, paths: () => inner.paths(), read: (p: string) => inner.read(`${prefix}/${p}`) };
  }
  const classNames = [...new Set(files.map((p) => p.slice(0, p.indexOf('/'))))].sort();
  const index = new Map(classNames.map((c, i) => [c, i]));
  const items = files.map((p) => ({ path: p, label: index.get(p.slice(0, p.indexOf('/'))) as number }));
  return { items, classNames, tree };
}

/** Reads a whole class-per-folder image directory (see {@link listImageFolder}) into memory. */
export function readImageFolder(tree: FileTree, options: ImageFolderOptions = {}): ImageDataset {
  const listing = listImageFolder(tree);
  if (listing.classNames.length === 0) throw formatError(tree.where, 'has no class folders with images (<root>/<class>/<image>)');
  return decodeImagesToDataset(listing.tree, listing.items, listing.classNames, options);
}
