import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ResourceUnavailableError } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import { readCifar10, readCifar100 } from '../readers/cifar-files.js';
import { mergeTrees, type FileTree } from '../readers/file-tree.js';
import { directoryTree, openFileTree, zipTree } from '../readers/file-tree-files.js';
import { readGtsrb } from '../readers/gtsrb.js';
import { readImageFolder } from '../readers/image-folder.js';
import { readImagenetR } from '../readers/imagenet-r.js';
import { parseSvhnMat } from '../readers/svhn.js';
import { dataCacheDir } from './cache-dir.js';
import { ensureFile } from './download.js';
import { isOffline, splitOf, type LoadOptions } from './load-options.js';
import { OFFICIAL_FILES } from './official-files.js';

function cacheFolder(options: LoadOptions, name: string): string {
  return join(options.cacheDir ?? dataCacheDir(), name);
}

/**
 * CIFAR-10 (binary version). `root`: the extracted `cifar-10-batches-bin` folder (or its parent) or the
 * `.tar.gz`; otherwise `<cache>/cifar10/` (extracted folder, else the archive, downloaded if missing).
 */
export async function loadCifar10(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  if (options.root) return readCifar10(options.root, split);
  const dir = cacheFolder(options, 'cifar10');
  if (existsSync(join(dir, 'cifar-10-batches-bin', 'test_batch.bin'))) return readCifar10(dir, split);
  const remote = OFFICIAL_FILES.cifar10[0];
  return readCifar10(await ensureFile(remote, join(dir, remote.file), { offline: isOffline(options), fetch: options.fetch }), split);
}

/**
 * CIFAR-100 (binary version, fine labels; `source: 'coarse'` for the 20 superclasses). `root`: the extracted
 * `cifar-100-binary` folder (or its parent) or the `.tar.gz`; otherwise `<cache>/cifar100/`.
 */
export async function loadCifar100(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  const labels = options.source === 'coarse' ? 'coarse' : 'fine';
  if (options.source !== undefined && options.source !== 'auto' && options.source !== 'fine' && options.source !== 'coarse') {
    throw new ConfigError(`cifar100: source must be 'fine' or 'coarse', got '${options.source}'.`, { field: 'source' });
  }
  if (options.root) return readCifar100(options.root, split, labels);
  const dir = cacheFolder(options, 'cifar100');
  if (existsSync(join(dir, 'cifar-100-binary', 'test.bin'))) return readCifar100(dir, split, labels);
  const remote = OFFICIAL_FILES.cifar100[0];
  return readCifar100(await ensureFile(remote, join(dir, remote.file), { offline: isOffline(options), fetch: options.fetch }), split, labels);
}

/** SVHN cropped digits: `<root or cache>/svhn/{train,test}_32x32.mat` (downloaded if missing). */
export async function loadSvhn(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  const dir = options.root ?? cacheFolder(options, 'svhn');
  const remote = OFFICIAL_FILES.svhn.find((f) => f.file === `${split}_32x32.mat`);
  if (!remote) throw new Error('internal: svhn table');
  const path = join(dir, remote.file);
  if (options.root && !existsSync(path)) {
    throw new ResourceUnavailableError(`svhn: ${path} not found. Download ${remote.url} and put it there.`, { file: path, url: remote.url });
  }
  await ensureFile(remote, path, { offline: isOffline(options), fetch: options.fetch });
  return parseSvhnMat(readFileSync(path), path, `svhn/${split}`);
}

/** Opens a folder and every `.zip` in it as one tree (archives as downloaded, or extracted, or both). */
function folderWithZips(dir: string): FileTree {
  const zips = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.zip')).sort();
  return mergeTrees([directoryTree(dir), ...zips.map((z) => zipTree(join(dir, z)))]);
}

/**
 * GTSRB, resized to `imageSize` (default 32). `root`: a folder with the extracted files and/or the official
 * zips, or one archive; otherwise `<cache>/gtsrb/` with the three official zips (downloaded if missing).
 */
export async function loadGtsrb(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  const opts = { imageSize: options.imageSize ?? 32, cropRoi: options.source === 'roi' };
  if (options.root) {
    const isDir = existsSync(options.root) && statSync(options.root).isDirectory();
    const tree = isDir ? folderWithZips(options.root) : openFileTree(options.root);
    return readGtsrb(tree, split, opts);
  }
  const dir = cacheFolder(options, 'gtsrb');
  const needed = split === 'train' ? ['GTSRB_Final_Training_Images.zip'] : ['GTSRB_Final_Test_Images.zip', 'GTSRB_Final_Test_GT.zip'];
  const extracted = existsSync(join(dir, 'GTSRB', split === 'train' ? 'Final_Training' : 'Final_Test'));
  if (!extracted) {
    for (const name of needed) {
      const remote = OFFICIAL_FILES.gtsrb.find((f) => f.file === name);
      if (!remote) throw new Error('internal: gtsrb table');
      await ensureFile(remote, join(dir, name), { offline: isOffline(options), fetch: options.fetch });
    }
  }
  return readGtsrb(folderWithZips(dir), split, opts);
}

/**
 * ImageNet-R with the CODA-Prompt split, stored at `imageSize` (default 64). `root` (or `<cache>/imagenet-r/`):
 * the extracted `imagenet-r` folder (200 `<wnid>` folders) with CODA-Prompt's `imagenet-r_train.yaml` /
 * `imagenet-r_test.yaml` at its root or under `splits/` (else the documented fallback split). Not downloaded
 * automatically (2.1 GB; must be extracted).
 */
export async function loadImagenetR(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  const dir = options.root ?? cacheFolder(options, 'imagenet-r');
  if (!existsSync(dir)) {
    const remote = OFFICIAL_FILES.imagenetR[0];
    throw new ResourceUnavailableError(
      `imagenetR: ${dir} not found. Download ${remote.url} (2.1 GB, MD5 ${remote.md5}), extract it so that ${dir}/<wnid>/*.jpg exist, ` +
        "and add CODA-Prompt's dataloaders/splits/imagenet-r_{train,test}.yaml next to the class folders.",
      { file: dir, url: remote.url },
    );
  }
  return readImagenetR(openFileTree(dir), split, options.imageSize === undefined ? {} : { imageSize: options.imageSize });
}

/**
 * A class-per-folder image directory (`root` required): `<root>/<class>/*.{png,jpg,jpeg,ppm}`. There is no
 * train/test convention, so `root` should point at the split's folder (e.g. `.../train`); `imageSize` resizes.
 */
export async function loadImageFolder(options: LoadOptions = {}): Promise<ImageDataset> {
  if (!options.root) throw new ConfigError('imageFolder needs `root`: a folder with one sub-folder per class.', { field: 'root' });
  const ds = readImageFolder(openFileTree(options.root), {
    ...(options.imageSize === undefined ? {} : { imageSize: options.imageSize }),
    name: `imageFolder/${splitOf(options)}`,
  });
  return ds;
}
