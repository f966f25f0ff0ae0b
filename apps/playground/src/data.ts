import { idxToDataset, parseIdx, type ImageDataset } from '@promptkd/datasets';

/** The playground's data: one train and one test split per dataset key. */
export interface Splits {
  readonly train: ImageDataset;
  readonly test: ImageDataset;
}

interface Manifest {
  readonly datasets: readonly {
    key: string;
    classNames: string[];
    source: string;
    splits: Record<'train' | 'test', { images: string; labels: string }>;
  }[];
}

async function bytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The subsets bundled with the page (public/data, written by scripts/make-data.ts), by dataset key. */
export async function loadBundledData(base = 'data/'): Promise<{ data: Map<string, Splits>; names: Map<string, readonly string[]> }> {
  const manifest = JSON.parse(new TextDecoder().decode(await bytes(`${base}manifest.json`))) as Manifest;
  const data = new Map<string, Splits>();
  const names = new Map<string, readonly string[]>();
  for (const d of manifest.datasets) {
    const split = async (s: 'train' | 'test') => {
      const f = d.splits[s];
      return idxToDataset(parseIdx(await bytes(base + f.images), f.images, 3), parseIdx(await bytes(base + f.labels), f.labels, 1), {
        name: `${d.key}/${s}`,
        classNames: d.classNames,
        imagesFile: f.images,
        labelsFile: f.labels,
      });
    };
    data.set(d.key, { train: await split('train'), test: await split('test') });
    names.set(d.key, d.classNames);
  }
  return { data, names };
}

/**
 * A dataset from IDX files the user dropped (the official `train-images-idx3-ubyte.gz`, `train-labels-…`,
 * `t10k-images-…`, `t10k-labels-…`; gzipped or not). Same parsing and errors as in Node.
 */
export async function datasetFromFiles(files: readonly File[], key: string, classNames: readonly string[]): Promise<Splits> {
  const find = (re: RegExp) => {
    const f = files.find((x) => re.test(x.name));
    if (!f) throw new Error(`Drop the four IDX files of ${key}: missing one matching ${re}.`);
    return f;
  };
  const read = async (f: File, dims: number) => parseIdx(new Uint8Array(await f.arrayBuffer()), f.name, dims);
  const split = async (s: 'train' | 't10k') => {
    const imgs = find(new RegExp(`${s}-images`));
    const labs = find(new RegExp(`${s}-labels`));
    return idxToDataset(await read(imgs, 3), await read(labs, 1), {
      name: `${key}/${s === 't10k' ? 'test' : 'train'}`,
      classNames,
      imagesFile: imgs.name,
      labelsFile: labs.name,
    });
  };
  return { train: await split('train'), test: await split('t10k') };
}
