import { Rng } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import type { FileTree } from './file-tree.js';
import { formatError } from './format-error.js';
import { decodeImagesToDataset, listImageFolder, type LabelledPath } from './image-folder.js';

/** Seed of the documented fallback split (used only when CODA-Prompt's split files are absent). */
export const IMAGENET_R_FALLBACK_SEED = 0;

/**
 * Parses CODA-Prompt's `imagenet-r_{train,test}.yaml` (`data:` list of image paths, `targets:` list of ints).
 * Only this simple block-list shape is supported; paths are reduced to `<wnid>/<file>`.
 */
export function parseCodaSplitYaml(bytes: Uint8Array, file: string): LabelledPath[] {
  const lines = new TextDecoder().decode(bytes).split(/\r?\n/);
  const data: string[] = [];
  const targets: number[] = [];
  let section: 'data' | 'targets' | undefined;
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const key = /^(\w+):\s*(.*)$/.exec(line);
    if (key) {
      section = key[1] === 'data' ? 'data' : key[1] === 'targets' ? 'targets' : undefined;
      if (key[2] && key[2] !== '') throw formatError(file, `inline value for '${key[1]}' is not supported (expected a block list)`);
      continue;
    }
    const item = /^\s*-\s+(.*)$/.exec(line);
    if (!item || !section) throw formatError(file, `unexpected line '${line.slice(0, 60)}'`);
    const v = (item[1] as string).replace(/^['"]|['"]$/g, '');
    if (section === 'data') data.push(v);
    else {
      const t = Number(v);
      if (!Number.isInteger(t) || t < 0) throw formatError(file, `target '${v}' is not a non-negative integer`);
      targets.push(t);
    }
  }
  if (data.length === 0 || data.length !== targets.length) {
    throw formatError(file, `has ${data.length} paths and ${targets.length} targets (expected equal, non-zero)`);
  }
  return data.map((p, i) => {
    const parts = p.split(/[\\/]/).filter(Boolean);
    if (parts.length < 2) throw formatError(file, `path '${p}' does not end in <class>/<file>`);
    return { path: parts.slice(-2).join('/'), label: targets[i] as number };
  });
}

/**
 * The fallback 80/20 split when the CODA-Prompt files are absent: classes are the sorted folder names; within
 * each class the sorted file list is shuffled with `Rng.fromSeed(IMAGENET_R_FALLBACK_SEED)` (one generator,
 * classes in order) and the first ⌊0.8·n⌋ files are train, the rest test. Deterministic, but NOT CODA-Prompt's
 * exact partition (that one came from an unseeded random split; its sizes are 24 000 / 6 000).
 */
export function imagenetRFallbackSplit(items: readonly LabelledPath[], numClasses: number, split: 'train' | 'test'): LabelledPath[] {
  const rng = Rng.fromSeed(IMAGENET_R_FALLBACK_SEED);
  const out: LabelledPath[] = [];
  for (let c = 0; c < numClasses; c++) {
    const files = items.filter((x) => x.label === c);
    const order = rng.permutation(files.length);
    const cut = Math.floor(0.8 * files.length);
    const pick = split === 'train' ? order.slice(0, cut) : order.slice(cut);
    for (const k of pick) out.push(files[k] as LabelledPath);
  }
  return out;
}

/** Options of {@link readImagenetR}. */
export interface ImagenetROptions {
  /** Stored side (Resize(shorter→size) + CenterCrop(size)). Default 64: 224 (the paper's) needs ≈3.6 GB for the train split. */
  readonly imageSize?: number;
  /** CODA-Prompt split file (`imagenet-r_train.yaml` / `imagenet-r_test.yaml`) as bytes + name; else looked up in the tree. */
  readonly splitFile?: { readonly bytes: Uint8Array; readonly name: string };
  /** Read at most this many images of the split (in split order). */
  readonly limit?: number;
}

/**
 * ImageNet-R (200 classes, `imagenet-r/<wnid>/*.jpg`, 30 000 images) with CODA-Prompt's 80/20 split
 * (`imagenet-r_{train,test}.yaml`: 24 000 / 6 000) when its split file is given or present in the tree
 * (at the root or under `splits/`), else the documented {@link imagenetRFallbackSplit}.
 */
export function readImagenetR(tree: FileTree, split: 'train' | 'test', options: ImagenetROptions = {}): ImageDataset {
  const listing = listImageFolder(tree);
  const { items, classNames } = listing;
  if (classNames.length === 0) throw formatError(tree.where, 'has no class folders (expected imagenet-r/<wnid>/<image>.jpg)');
  let chosen: LabelledPath[];
  let how: string;
  const yamlName = `imagenet-r_${split}.yaml`;
  const inTree = tree.paths().find((p) => p === yamlName || p.endsWith(`/${yamlName}`));
  const file = options.splitFile ?? (inTree ? { bytes: tree.read(inTree), name: `${tree.where}!${inTree}` } : undefined);
  if (file) {
    const byPath = new Set(items.map((x) => x.path));
    chosen = parseCodaSplitYaml(file.bytes, file.name).map((x) => {
      if (!byPath.has(x.path)) throw formatError(file.name, `lists ${x.path}, which is not in ${tree.where}`);
      if (x.label >= classNames.length) throw formatError(file.name, `target ${x.label} is not below ${classNames.length} classes`);
      return x;
    });
    how = `CODA-Prompt split ${file.name}`;
  } else {
    chosen = imagenetRFallbackSplit(items, classNames.length, split);
    how = `fallback split (seed ${IMAGENET_R_FALLBACK_SEED}, per class 80/20)`;
  }
  if (options.limit !== undefined) chosen = chosen.slice(0, options.limit);
  const ds = decodeImagesToDataset(listing.tree, chosen, classNames, { imageSize: options.imageSize ?? 64, resize: 'centerCrop', name: `imagenetR/${split}` });
  return { ...ds, source: `${tree.where} (${how})` };
}
