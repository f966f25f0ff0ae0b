import { readFileSync } from 'node:fs';
import type { ImageDataset } from '../image-dataset.js';
import { idxToDataset, parseIdx, type IdxArray } from './idx.js';
import { parseMat, type MatArray } from './mat-v5.js';
import { parseTar, type TarEntry } from './tar.js';
import { parseZip, type ZipEntry } from './zip.js';

/* The readers' file entry points (Node): read the file, then the in-memory parser of the same format. */

/** Reads and parses an IDX file from disk (see {@link parseIdx}). */
export function readIdxFile(path: string, expectDims?: number): IdxArray {
  return parseIdx(readFileSync(path), path, expectDims);
}

/** Reads an IDX image/label file pair from disk into a grey dataset. */
export function readIdxDataset(
  imagesFile: string,
  labelsFile: string,
  options: { name: string; classNames: readonly string[] },
): ImageDataset {
  return idxToDataset(readIdxFile(imagesFile, 3), readIdxFile(labelsFile, 1), { ...options, imagesFile, labelsFile });
}

/** Reads and parses a `.tar` / `.tar.gz` file from disk. */
export function readTarFile(path: string): TarEntry[] {
  return parseTar(readFileSync(path), path);
}

/** Reads a zip archive from disk (see {@link parseZip}). */
export function readZipFile(path: string): ZipEntry[] {
  return parseZip(readFileSync(path), path);
}

/** Reads and parses a MAT-file from disk (see {@link parseMat}). */
export function readMatFile(path: string): Map<string, MatArray> {
  return parseMat(readFileSync(path), path);
}
