import * as tf from '@tensorflow/tfjs';
import { Rng } from '@promptkd/core';
import { PromptedClassifier, QueryCache, clsQueryFunction, createClMethod, fromVisionTransformer, trainTask } from '@promptkd/continual';
import { CMISynthesizer } from '@promptkd/data-free';
import { createImageDataset, type ImageDataset } from '@promptkd/datasets';
import { kdLossRegistry, type KdLossKey } from '@promptkd/kd-losses';
import { createKiopContext, kiopConfigSchema, kiopPresets, trainKiop } from '@promptkd/kiop';
import { CmiGenerator, VisionTransformer, createModel, type FunctionalClassifier } from '@promptkd/models';
import { SegmentedPrompt } from '@promptkd/visual-prompt';
import { cases as kdCases, labelsFor } from '../../../packages/kd-losses/test/cases.js';

/**
 * The computations the browser equality test runs twice: in Node on the cpu backend (the reference) and in headless
 * Chromium on webgpu, webgl and wasm. Each case returns named float arrays; the test compares them within float32
 * tolerance. Everything is seeded and tiny (seconds on SwiftShader).
 */
export type CaseValues = Record<string, number[]>;

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** Sum and sum of squares of a set of variables: a cheap fingerprint of parameters after a training step. */
function fingerprint(vars: readonly tf.Variable[]): number[] {
  return tf.tidy(() => {
    const flat = tf.concat(vars.map((v) => tf.reshape(v, [-1])));
    return [tf.sum(flat).dataSync()[0] as number, tf.sum(tf.square(flat)).dataSync()[0] as number];
  });
}

/** A nested prompt's forward pass (Prompt Core + Periphery) and the gradient of a weighted sum w.r.t. its θ. */
function promptForwardAndGradient(): CaseValues {
  const prompt = new SegmentedPrompt({ sizes: [8, 10, 14], channels: 3 });
  const out: CaseValues = {};
  tf.tidy(() => {
    for (const v of prompt.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 3));
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([2, 14, 14, 3], 0, 1, 'float32', 2);
    out['prompt.forward'] = values(prompt.apply(x));
    out['prompt.core'] = values(prompt.apply(x, { upTo: 1 }));
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(prompt.apply(x), w)) as tf.Scalar, prompt.trainableVariables());
    out['prompt.loss'] = values(value);
    for (const [name, g] of Object.entries(grads)) out[`prompt.grad.${name}`] = values(g);
  });
  prompt.dispose();
  return out;
}

/** Every registered KD loss on its conformance problem: the value and the gradients w.r.t. the trainable inputs. */
function kdLosses(): CaseValues {
  const out: CaseValues = {};
  for (const key of kdLossRegistry.keys() as KdLossKey[]) {
    const c = kdCases[key];
    tf.tidy(() => {
      const t = c.tensors();
      const y = labelsFor();
      const trainable = c.trainable.map((k) => t[k] as tf.Tensor);
      const g = tf.valueAndGrads((...xs: tf.Tensor[]) => {
        const t2 = { ...t };
        c.trainable.forEach((k, i) => (t2[k] = xs[i] as tf.Tensor));
        return c.run(t2, y);
      });
      const { value, grads } = g(trainable);
      out[`kd.${key}.loss`] = values(value);
      grads.forEach((gr, i) => (out[`kd.${key}.grad.${c.trainable[i]}`] = values(gr)));
    });
  }
  return out;
}

const bnCnn = (k: number, seed: number) => createModel('bnCnn', { blocks: [4, 8], numClasses: k, seed }) as FunctionalClassifier;

/** One CMI synthesis round of one generator iteration: its loss terms and the kept images. */
async function cmiIteration(): Promise<CaseValues> {
  const teacher = bnCnn(10, 5);
  teacher.setTrainable(false);
  const generator = new CmiGenerator({ nz: 8, ngf: 4, imageSize: 32, seed: 6 });
  const synth = new CMISynthesizer({
    teacher,
    generator,
    config: { batchSize: 4, iterations: 1, nz: 8, bankCapacity: 16, negatives: 8, headDim: 8, headHidden: 8, seed: 7 },
  });
  const step = await synth.synthesize();
  const images = synth.imageBank.get([0, 1, 2, 3]);
  const out: CaseValues = { 'cmi.images': values(images) };
  images.dispose();
  for (const [k, v] of Object.entries(step.losses)) out[`cmi.loss.${k}`] = [v];
  synth.dispose();
  generator.dispose();
  teacher.dispose();
  return out;
}

function tinyDataset(name: string, n: number, classes: number, seed: number): ImageDataset {
  const rng = Rng.fromSeed(seed);
  const images = new Uint8Array(n * 28 * 28);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(rng.random() * 256);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return createImageDataset({ name, images, labels, height: 28, width: 28, channels: 1, numClasses: classes });
}

/** A KiOP-B smoke epoch (one synthesis round, one knowledge-storing step, evaluation) on MNIST-shaped data. */
async function kiopBStep(): Promise<CaseValues> {
  const config = kiopConfigSchema.parse({
    ...kiopPresets.smoke,
    variant: 'kiopB',
    seed: 3,
    epochs: 1,
    kdSteps: 1,
    batchSize: 4,
    promptSizes: [32, 36, 40],
    synthesis: { ...kiopPresets.smoke.synthesis, gSteps: 1, bankCapacity: 16, nNeg: 8, nz: 8, ngf: 4, headHidden: 8, headOut: 8 },
  });
  const host = bnCnn(10, 1);
  const source = bnCnn(10, 2);
  for (const m of [host, source]) m.setTrainable(false);
  const mnist = tinyDataset('mnist', 8, 10, 1);
  const fashion = tinyDataset('fashionMnist', 8, 10, 2);
  const { ctx, dispose } = createKiopContext({
    config,
    host: { dataset: 'mnist', model: host, test: mnist, train: mnist },
    sources: [{ dataset: 'fashionMnist', model: source, test: fashion }],
    createGenerator: ({ nz, ngf, imageSize, channels, seed }) => new CmiGenerator({ nz, ngf, imageSize, channels, seed }),
  });
  const out: CaseValues = {};
  const result = await trainKiop(ctx, {
    onEpochEnd() {
      out['kiopB.prompt'] = fingerprint(ctx.prompt.trainableVariables());
    },
  });
  const epoch = result.epochs[0]!;
  for (const [k, v] of Object.entries(epoch.losses)) out[`kiopB.loss.${k}`] = [v];
  for (const [bank, losses] of Object.entries(epoch.synthesis)) {
    for (const [k, v] of Object.entries(losses)) out[`kiopB.synthesis.${bank}.${k}`] = [v];
  }
  dispose();
  host.dispose();
  source.dispose();
  return out;
}

/** One CODA-Prompt training step on a tiny ViT: the loss and a fingerprint of the prompt parameters after Adam. */
async function codaStep(): Promise<CaseValues> {
  const vit = new VisionTransformer({ imageSize: 16, patchSize: 4, inputChannels: 1, dim: 16, depth: 2, heads: 2, mlpRatio: 2, numClasses: 0, seed: 3 });
  const backbone = fromVisionTransformer(vit);
  const method = createClMethod('coda', {
    embedDim: backbone.embedDim,
    keyDim: 16,
    numTasks: 2,
    rng: Rng.fromSeed(1),
    config: { poolSize: 4, length: 2, layers: [0, 1] },
  });
  const model = new PromptedClassifier(backbone, method, 4, Rng.fromSeed(2));
  const x = tf.randomUniform([4, 16, 16, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const task = { task: 0, lo: 0, hi: 2, train: { x, y: Int32Array.from([0, 1, 0, 1]) }, test: { x, y: Int32Array.from([0, 1, 0, 1]) } };
  const queries = new QueryCache(clsQueryFunction(backbone), { cache: false });
  const losses = await trainTask(model, task, { epochs: 1, batchSize: 4, lr: 1e-2, maxStepsPerEpoch: 1 }, { queries, rng: Rng.fromSeed(3) });
  const out: CaseValues = { 'coda.loss': losses, 'coda.params': fingerprint(model.trainableVariables()) };
  queries.dispose();
  model.dispose();
  vit.dispose();
  x.dispose();
  return out;
}

/** Runs every case on the active backend; also reports tensors left behind (must be 0). */
export const CASES: Readonly<Record<string, () => CaseValues | Promise<CaseValues>>> = {
  prompt: promptForwardAndGradient,
  kdLosses,
  cmi: cmiIteration,
  kiopB: kiopBStep,
  coda: codaStep,
};

/** Runs the cases (all, or those named) on the active backend; also reports tensors left behind (must be 0). */
export async function runCases(only: readonly string[] = Object.keys(CASES)): Promise<{ values: CaseValues; leaked: number; seconds: Record<string, number> }> {
  const before = tf.memory().numTensors;
  const values: CaseValues = {};
  const seconds: Record<string, number> = {};
  for (const name of only) {
    const t0 = performance.now();
    Object.assign(values, await CASES[name]!());
    seconds[name] = (performance.now() - t0) / 1000;
  }
  return { values, leaked: tf.memory().numTensors - before, seconds };
}
