/**
 * Smoke run of CMI on a real (tiny) teacher:
 *   node --conditions=@promptkd/source --import tsx packages/data-free/scripts/smoke.ts [--rounds 5] [--iterations 40]
 *
 * 1. trains a small BN CNN on 3 Fashion-MNIST classes (Trouser, Sneaker, Bag), 16×16 grey, from the IDX files in
 *    /usr/share/datasets/fashion-mnist (override with FMNIST_DIR);
 * 2. inverts it with CMI (models' cmiGenerator, no student) for a few rounds, and once more without the
 *    contrastive term (cr = 0) as the diversity baseline;
 * 3. prints the teacher's accuracy on the bank w.r.t. the class each image was synthesised for, and the mean
 *    pairwise L2 distance between bank images (overall and within class) for both runs.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { initBackend } from '@promptkd/tfjs-env';
import { BnCnn, CmiGenerator, deserializeModel, serializeModel } from '@promptkd/models';
import { Rng } from '@promptkd/core';
import { CMISynthesizer, type CmiConfig, type SynthesisGenerator } from '@promptkd/data-free';
import { TinyGenerator } from '../test/tiny-generator.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = opt('rounds', 5);
const ITERATIONS = opt('iterations', 40);
const BATCH = opt('batch', 32);
const TRAIN_STEPS = opt('train-steps', 300);
const SIDE = 16;
// `models`: @promptkd/models' CmiGenerator; `local`: the same architecture from test/tiny-generator.ts with
// resizeNearestNeighbor upsampling (models' concat-based upsample has a slow gradient on wasm at the time of writing).
const GENERATOR = args.includes('--generator') ? (args[args.indexOf('--generator') + 1] as 'models' | 'local') : 'models';
const CLASSES = [1, 7, 8]; // Trouser, Sneaker, Bag
const DIR = process.env.FMNIST_DIR ?? '/usr/share/datasets/fashion-mnist';

function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  const b = gunzipSync(readFileSync(join(DIR, file)));
  const nd = b[3] as number;
  const dims = Array.from({ length: nd }, (_, i) => b.readUInt32BE(4 + 4 * i));
  return { dims, data: new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * nd, b.length - 4 - 4 * nd) };
}

function loadSplit(prefix: 'train' | 't10k'): { x: tf.Tensor4D; y: Int32Array } {
  const imgs = readIdx(`${prefix}-images-idx3-ubyte.gz`);
  const labs = readIdx(`${prefix}-labels-idx1-ubyte.gz`);
  const keep: number[] = [];
  labs.data.forEach((l, i) => {
    if (CLASSES.includes(l)) keep.push(i);
  });
  const px = 28 * 28;
  const buf = new Float32Array(keep.length * px);
  keep.forEach((idx, k) => {
    for (let j = 0; j < px; j++) buf[k * px + j] = (imgs.data[idx * px + j] as number) / 255;
  });
  const y = Int32Array.from(keep, (i) => CLASSES.indexOf(labs.data[i] as number));
  const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(buf, [keep.length, 28, 28, 1]), [SIDE, SIDE], false, true));
  return { x, y };
}

function accuracy(model: BnCnn, x: tf.Tensor4D, y: ArrayLike<number>): number {
  let correct = 0;
  for (let s = 0; s < x.shape[0]; s += 256) {
    const n = Math.min(256, x.shape[0] - s);
    const pred = tf.tidy(() => tf.argMax(model.apply(tf.slice(x, [s, 0, 0, 0], [n, -1, -1, -1])).logits, 1).dataSync());
    for (let i = 0; i < n; i++) if (pred[i] === y[s + i]) correct++;
  }
  return correct / x.shape[0];
}

function meanPairwiseDistance(imgs: Float32Array, n: number, size: number, pick?: (i: number) => boolean): number {
  let sum = 0;
  let cnt = 0;
  for (let i = 0; i < n; i++) {
    if (pick && !pick(i)) continue;
    for (let j = i + 1; j < n; j++) {
      if (pick && !pick(j)) continue;
      let d = 0;
      for (let k = 0; k < size; k++) {
        const t = (imgs[i * size + k] as number) - (imgs[j * size + k] as number);
        d += t * t;
      }
      sum += Math.sqrt(d);
      cnt++;
    }
  }
  return cnt ? sum / cnt : 0;
}

async function main(): Promise<void> {
  const env = await initBackend({ backend: 'wasm' });
  console.log(`backend ${tf.getBackend()}`, JSON.stringify(env));
  const t0 = performance.now();
  const train = loadSplit('train');
  const test = loadSplit('t10k');
  console.log(`FMNIST classes ${CLASSES.join(',')}: train ${train.x.shape[0]}, test ${test.x.shape[0]} (${SIDE}×${SIDE} grey)`);

  // --- teacher ---
  const teacher = new BnCnn({
    blocks: [{ channels: 16, pool: true }, { channels: 32, pool: true }, { channels: 64 }],
    numClasses: CLASSES.length,
    inputChannels: 1,
    normalization: { mean: [0.286], std: [0.353] },
    seed: 0,
  });
  const cacheIdx = args.indexOf('--teacher-cache');
  const cache = cacheIdx >= 0 ? args[cacheIdx + 1] : undefined;
  const cached = cache !== undefined && existsSync(cache);
  if (cached) {
    const b = readFileSync(cache);
    deserializeModel(teacher, new Uint8Array(b.buffer, b.byteOffset, b.byteLength), { file: cache });
    console.log(`teacher loaded from ${cache}`);
  }
  const optT = tf.train.adam(2e-3);
  const rng = Rng.fromSeed(0);
  const nTrain = train.x.shape[0];
  for (let step = 0; step < (cached ? 0 : TRAIN_STEPS); step++) {
    const idx = Array.from({ length: 64 }, () => rng.int(0, nTrain - 1));
    const loss = tf.tidy(() => {
      const xb = tf.gather(train.x, idx);
      const yb = tf.oneHot(tf.tensor1d(idx.map((i) => train.y[i] as number), 'int32'), CLASSES.length);
      const flip = rng.random() < 0.5;
      const xin = flip ? tf.reverse(xb, 2) : xb;
      return optT.minimize(
        () => tf.losses.softmaxCrossEntropy(yb, teacher.apply(xin as tf.Tensor4D, { training: true }).logits) as tf.Scalar,
        true,
        teacher.trainableVariables(),
      );
    });
    if (step % 100 === 0 || step === TRAIN_STEPS - 1) console.log(`teacher step ${step} loss ${loss?.dataSync()[0]?.toFixed(4)}`);
    loss?.dispose();
  }
  optT.dispose();
  if (cache !== undefined && !cached) writeFileSync(cache, serializeModel(teacher));
  teacher.setTrainable(false);
  const testAcc = accuracy(teacher, test.x, test.y);
  console.log(`teacher test accuracy ${(100 * testAcc).toFixed(2)} % (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  // --- CMI ---
  const run = async (label: string, overrides: Partial<CmiConfig>): Promise<void> => {
    const gen: SynthesisGenerator & { dispose(): void } =
      GENERATOR === 'local' ? new TinyGenerator(64, 16, SIDE, 1) : new CmiGenerator({ nz: 64, ngf: 16, imageSize: SIDE, channels: 1, seed: 0 });
    const syn = new CMISynthesizer({
      teacher,
      generator: gen,
      preset: 'cpu',
      config: { batchSize: BATCH, iterations: ITERATIONS, nz: 64, bankCapacity: BATCH * 64, headHidden: undefined, seed: 0, ...overrides },
    });
    const t1 = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const step = await syn.synthesize();
      const l = step.losses;
      console.log(
        `[${label}] round ${r + 1}: best it ${l.iteration} total ${l.total?.toFixed(3)} bn ${l.bn?.toFixed(3)} oh ${l.oh?.toFixed(3)} cr ${l.cr?.toFixed(3)} bank ${step.bankSize}`,
      );
    }
    const secs = (performance.now() - t1) / 1000;
    const n = syn.imageBank.size;
    const all = syn.imageBank.get(Array.from({ length: n }, (_, i) => i));
    const acc = accuracy(teacher, all, syn.imageBank.labels);
    const size = SIDE * SIDE;
    const data = all.dataSync() as Float32Array;
    const labels = syn.imageBank.labels;
    const overall = meanPairwiseDistance(data, n, size);
    const within = CLASSES.map((_, c) => meanPairwiseDistance(data, n, size, (i) => labels[i] === c));
    const counts = CLASSES.map((_, c) => labels.filter((l) => l === c).length);
    const mean = tf.tidy(() => tf.mean(all).dataSync()[0] as number);
    const feats = tf.tidy(() => teacher.apply(all, { taps: ['features'] }).taps.features?.dataSync() as Float32Array);
    const fdim = feats.length / n;
    const fOverall = meanPairwiseDistance(feats, n, fdim);
    const fWithin = CLASSES.map((_, c) => meanPairwiseDistance(feats, n, fdim, (i) => labels[i] === c));
    console.log(
      `[${label}] generator ${GENERATOR}: ${ROUNDS} rounds × ${ITERATIONS} it × batch ${BATCH} in ${secs.toFixed(1)} s (D = ${syn.featureDim}); bank ${n} images, ` +
        `per class ${counts.join('/')}, mean pixel ${mean.toFixed(3)}`,
    );
    console.log(`[${label}] teacher agrees with the synthesised-for class on ${(100 * acc).toFixed(2)} % of the bank`);
    console.log(
      `[${label}] mean pairwise L2 distance (pixels): overall ${overall.toFixed(3)}, within class ${within.map((v) => v.toFixed(3)).join(' / ')}`,
    );
    console.log(
      `[${label}] mean pairwise L2 distance (teacher penultimate features): overall ${fOverall.toFixed(3)}, within class ${fWithin.map((v) => v.toFixed(3)).join(' / ')}`,
    );
    all.dispose();
    syn.dispose();
    gen.dispose();
  };
  await run('cmi', {});
  await run('no-contrastive', { cr: 0 });
  if (args.includes('--extra-cr')) {
    const cr = opt('extra-cr', 4);
    await run(`cmi cr=${cr}`, { cr });
  }
  console.log(`tensors alive at the end: ${tf.memory().numTensors}`);
  tf.dispose([train.x, test.x]);
  teacher.dispose();
}

await main();
