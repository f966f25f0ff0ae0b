import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import { column, parseDelimited } from './csv.js';
import type { FileTree } from './file-tree.js';
import { formatError } from './format-error.js';
import { decodeImageRgb } from './image-decode.js';
import { resizeImage } from './resize-image.js';

/** GTSRB has 43 classes; names are the class ids `00`..`42`. */
export const GTSRB_NUM_CLASSES = 43;

/** Options of {@link readGtsrb}. */
export interface GtsrbOptions {
  /** Output side; images are resized to `imageSize`×`imageSize` (KiOP: 32, torchvision `Resize((32, 32))`). */
  readonly imageSize?: number;
  /** Crop to the annotated ROI (`Roi.X1..X2`, `Roi.Y1..Y2`, inclusive) before resizing. Default false (as torchvision/KiOP). */
  readonly cropRoi?: boolean;
  /** Read at most this many images (in file order), e.g. for quick experiments. */
  readonly limit?: number;
}

const CLASS_DIR = /(?:^|\/)(\d{5})\/[^/]+$/;

interface Row {
  readonly path: string;
  readonly label: number;
  readonly roi?: { x1: number; y1: number; x2: number; y2: number };
}

function csvRows(tree: FileTree, csvPath: string, resolve: (name: string) => string | undefined): Row[] {
  const where = `${tree.where}!${csvPath}`;
  const { header, rows } = parseDelimited(tree.read(csvPath), where);
  const f = column(header, 'Filename', where);
  const k = column(header, 'ClassId', where);
  const roiCols = ['Roi.X1', 'Roi.Y1', 'Roi.X2', 'Roi.Y2'].map((n) => header.indexOf(n));
  return rows.map((r, i) => {
    const name = r[f] as string;
    const label = Number(r[k]);
    if (!Number.isInteger(label) || label < 0 || label >= GTSRB_NUM_CLASSES) {
      throw formatError(where, `row ${i + 2}: ClassId '${r[k]}' is not in 0..${GTSRB_NUM_CLASSES - 1}`);
    }
    const path = resolve(name);
    if (!path) throw formatError(where, `row ${i + 2}: image '${name}' is not in ${tree.where}`);
    const roi = roiCols.every((c) => c >= 0)
      ? { x1: Number(r[roiCols[0] as number]), y1: Number(r[roiCols[1] as number]), x2: Number(r[roiCols[2] as number]), y2: Number(r[roiCols[3] as number]) }
      : undefined;
    return roi ? { path, label, roi } : { path, label };
  });
}

function trainRows(tree: FileTree): Row[] {
  const all = tree.paths();
  const csvs = all.filter((p) => /(?:^|\/)GT-\d{5}\.csv$/.test(p));
  if (csvs.length > 0) {
    const set = new Set(all);
    return csvs.flatMap((csv) => {
      const dir = csv.slice(0, csv.lastIndexOf('/') + 1);
      return csvRows(tree, csv, (name) => (set.has(dir + name) ? dir + name : undefined));
    });
  }
  // No annotation files: label = the 5-digit class folder (GTSRB/Final_Training/Images/000NN/*.ppm).
  const rows = all
    .filter((p) => /\.(ppm|png|jpe?g)$/i.test(p))
    .flatMap((p) => {
      const m = CLASS_DIR.exec(p);
      return m ? [{ path: p, label: Number(m[1]) }] : [];
    });
  for (const r of rows) {
    if (r.label >= GTSRB_NUM_CLASSES) throw formatError(tree.where, `class folder ${r.path} is not in 00000..00042`);
  }
  return rows;
}

function testRows(tree: FileTree): Row[] {
  const all = tree.paths();
  const csv = all.find((p) => /(?:^|\/)GT-final_test\.csv$/.test(p));
  if (!csv) {
    throw formatError(
      tree.where,
      'GT-final_test.csv not found (the test labels ship separately in GTSRB_Final_Test_GT.zip)',
      'Put GTSRB_Final_Test_GT.zip (or its GT-final_test.csv) next to the test images.',
    );
  }
  const byName = new Map<string, string>();
  for (const p of all) {
    if (!/\.(ppm|png|jpe?g)$/i.test(p) || CLASS_DIR.test(p)) continue;
    byName.set(p.slice(p.lastIndexOf('/') + 1), p);
  }
  return csvRows(tree, csv, (name) => byName.get(name));
}

/**
 * GTSRB (German Traffic Sign Recognition Benchmark) from the official layout, as a folder or the zip archives
 * merged into one {@link FileTree}:
 * - train: `GTSRB/Final_Training/Images/000NN/*.ppm` with per-class `GT-000NN.csv` (`Filename;Width;Height;
 *   Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId`) — 39 209 images; without CSVs the class folder gives the label;
 * - test: `GTSRB/Final_Test/Images/*.ppm` + `GT-final_test.csv` (from `GTSRB_Final_Test_GT.zip`) — 12 630 images.
 * Images are decoded (PPM, or PNG/JPEG) and resized bilinearly (antialiased) to `imageSize`² RGB.
 */
export function readGtsrb(tree: FileTree, split: 'train' | 'test', options: GtsrbOptions = {}): ImageDataset {
  const size = options.imageSize ?? 32;
  let rows = split === 'train' ? trainRows(tree) : testRows(tree);
  if (rows.length === 0) throw formatError(tree.where, `no GTSRB ${split} images found (expected the official layout)`);
  if (options.limit !== undefined) rows = rows.slice(0, options.limit);
  const per = size * size * 3;
  const images = new Uint8Array(rows.length * per);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    const where = `${tree.where}!${r.path}`;
    const img = decodeImageRgb(tree.read(r.path), where);
    let box;
    if (options.cropRoi && r.roi) {
      const x1 = Math.max(0, Math.min(r.roi.x1, img.width - 1));
      const y1 = Math.max(0, Math.min(r.roi.y1, img.height - 1));
      const x2 = Math.max(x1, Math.min(r.roi.x2, img.width - 1));
      const y2 = Math.max(y1, Math.min(r.roi.y2, img.height - 1));
      box = { x: x1, y: y1, width: x2 - x1 + 1, height: y2 - y1 + 1 };
    }
    images.set(resizeImage(img, size, size, box).data, i * per);
    labels[i] = r.label;
  });
  return createImageDataset({
    name: `gtsrb/${split}`,
    images,
    labels,
    height: size,
    width: size,
    channels: 3,
    numClasses: GTSRB_NUM_CLASSES,
    classNames: Array.from({ length: GTSRB_NUM_CLASSES }, (_, i) => String(i).padStart(2, '0')),
    source: tree.where,
  });
}
