/**
 * Bench workloads of the CPU studies, built from the library itself (not re-written with plain tf ops) and sized
 * by the presets, so they follow them: the KDP `cpu` student step and the KiOP prompt step and CMI synthesis
 * iteration of a KiOP preset (`demo`, `cpu`, `paper`). Each sends torch_bench.py a `spec` (the preset-derived
 * shapes) so that the PyTorch counterpart builds the same networks. FLOPs are counted from the kernels a profiled
 * run executes (see kernel-flops.ts), on both sides, forward and whole step.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, adam, momentum, type ClassifierModel, type Synthesizer } from '@promptkd/core';
import { PromptedClassifier, createClMethod, fromVisionTransformer, taskOptimizer, trainStep } from '@promptkd/continual';
import {
  ContrastiveHead,
  adversarialLoss,
  bnStatisticsLoss,
  classPriorLoss,
  cmiContrastiveLoss,
  horizontalFlip,
  instanceMeanFeatures,
  randomCropWithPadding,
  randomResizedCrop,
  resolveCmiConfig,
  sampleCropOffsets,
  sampleFlips,
  sampleResizedCropBoxes,
  sortedRandomTargets,
} from '@promptkd/data-free';
import { DistillationStudent, LiveTeacher, createKdMethod, kdpPresets, resolveClConfig, type KdpPresetName, type VitShape } from '@promptkd/kdp';
import {
  FusedModels,
  bankAugment,
  createPromptSession,
  kiopPresets,
  knowledgeStoringStep,
  participantPresets,
  type KiopConfig,
  type KiopContext,
  type ParticipantPreset,
} from '@promptkd/kiop';
import { randomLabelMappingSlices } from '@promptkd/label-mapping';
import { CmiGenerator, VisionTransformer, createModel } from '@promptkd/models';
import { SegmentedPrompt } from '@promptkd/visual-prompt';
import { countFlopsOfKernels } from './kernel-flops.js';
import type { BenchModel, BenchSession } from './models.js';

const numel = (ts: readonly tf.Tensor[]): number => ts.reduce((s, t) => s + t.size, 0);

/** Forward and step FLOPs from the kernels of one profiled forward and one profiled step (a fresh session). */
async function profiledFlops(forward: () => tf.Tensor, start: () => BenchSession): Promise<{ forward: number; step: number }> {
  // tf.profile returns the engine's one profile object (the next call overwrites it): count right away.
  const fwd = countFlopsOfKernels(
    (
      await tf.profile(() => {
        const out = tf.tidy(forward);
        out.dataSync();
        out.dispose();
      })
    ).kernels,
  );
  const s = start();
  try {
    const step = countFlopsOfKernels(
      (
        await tf.profile(() => {
          const l = s.step();
          l.dataSync();
          l.dispose();
        })
      ).kernels,
    );
    return { forward: fwd, step };
  } finally {
    s.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// KDP

function vitOf(s: VitShape, seed: number): VisionTransformer {
  return new VisionTransformer({
    imageSize: s.imageSize,
    patchSize: s.patchSize,
    inputChannels: s.channels,
    dim: s.dim,
    depth: s.depth,
    heads: s.heads,
    mlpRatio: s.mlpRatio,
    numClasses: 0,
    seed,
  });
}

/**
 * One KDP student step of a KDP preset (`cpu`: Fashion-MNIST 2×5, ViT D 64 → 32, depth 4, CODA-P, KD token, KD
 * prefixes in layers 1..n_kd−1, KD head, batch 64), on the stream's last task (past CODA components detached):
 * ```
 * z^T = teacher(x, q)[:, lo:hi]                                    (eval, no gradient: prompted teacher forward)
 * L = (1−α)·CE(g(h_CLS)[:, lo:hi], y) + α·τ²·KL(z^T ‖ k(h_KD)[:, lo:hi])      (α 0.5, τ 2)
 * Adam(1e-3) on the student's CODA-P components/keys/attention, head g, KD token, KD prefixes and KD head k
 * ```
 * The step is `trainStep` of `@promptkd/continual` on a `DistillationStudent` with a `LiveTeacher` (the presets
 * cache the teacher logits and queries; the bench computes the teacher forward every step and feeds a fixed query).
 */
export function kdpStudentStep(presetName: KdpPresetName, batchOverride?: number): BenchModel {
  const preset = kdpPresets[presetName];
  const batch = batchOverride ?? preset.training.batchSize;
  const { numTasks, classesPerTask } = preset.data;
  const numClasses = numTasks * classesPerTask;
  const task = numTasks - 1;
  const ctx = { task, lo: task * classesPerTask, hi: (task + 1) * classesPerTask };
  const tVit = vitOf(preset.teacher, 1);
  const sVit = vitOf(preset.student, 2);
  const keyDim = sVit.dim;
  const clConfig = resolveClConfig(preset, 'coda', numTasks);
  const teacher = new PromptedClassifier(
    fromVisionTransformer(tVit),
    createClMethod('coda', { embedDim: tVit.dim, keyDim, numTasks, rng: Rng.fromSeed(11), config: clConfig }),
    numClasses,
    Rng.fromSeed(12),
    'last',
  );
  const method = createKdMethod('kdp', {
    hyper: preset.kd,
    studentDim: sVit.dim,
    studentDepth: sVit.depth,
    teacherDim: tVit.dim,
    teacherDepth: tVit.depth,
    numClasses,
    rng: Rng.fromSeed(13),
  });
  const student = new DistillationStudent(
    new PromptedClassifier(
      fromVisionTransformer(sVit),
      createClMethod('coda', { embedDim: sVit.dim, keyDim, numTasks, rng: Rng.fromSeed(14), config: clConfig }),
      numClasses,
      Rng.fromSeed(15),
      'last',
    ),
    method,
    new LiveTeacher(teacher),
  );
  for (let t = 1; t <= task; t++) {
    const c = { task: t, lo: t * classesPerTask, hi: (t + 1) * classesPerTask };
    teacher.beforeTask(c);
    student.beforeTask(c);
  }
  const vars = student.trainableVariables();
  const s = preset.student;
  const x = tf.randomUniform([batch, s.imageSize, s.imageSize, s.channels], 0, 1, 'float32', 21) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => ctx.lo + (i % classesPerTask)), 'int32');
  const query = tf.randomNormal([batch, keyDim], 0, 1, 'float32', 22) as tf.Tensor2D;
  const indices = Int32Array.from({ length: batch }, (_, i) => i);
  const data = { x, y, query, indices };
  const start = (): BenchSession => {
    const opt = taskOptimizer(preset.training.lr);
    return {
      step: () => tf.scalar(trainStep(student, vars, opt, data, ctx).loss),
      dispose: () => opt.dispose(),
    };
  };
  const forward = (): tf.Tensor => tf.tidy(() => student.loss(data, ctx).total);
  const frozen = [...tVit.namedVariables().values(), ...sVit.namedVariables().values(), ...teacher.trainableVariables()];
  const shape = (v: VitShape) => ({ imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, dim: v.dim, depth: v.depth, heads: v.heads, mlpRatio: v.mlpRatio });
  return {
    name: `kdp-${presetName}-student`,
    batch,
    params: { trainable: numel(vars), frozen: numel(frozen) },
    flopsRule: 'counted (executed kernels)',
    countFlops: () => profiledFlops(forward, start),
    forward,
    start,
    torchSpec: {
      kind: 'kdp-student',
      batch,
      teacher: shape(preset.teacher),
      student: shape(preset.student),
      numTasks,
      classesPerTask,
      task,
      coda: { length: preset.cl.coda.length, layers: [...preset.cl.coda.layers], perTask: preset.cl.coda.componentsPerTask },
      kd: { alpha: preset.kd.alpha, temperature: preset.kd.temperature, kdLayers: preset.kd.kdLayers, kdPromptLength: preset.kd.kdPromptLength },
      lr: preset.training.lr,
    },
    dispose: () => {
      student.dispose();
      teacher.dispose();
      tVit.dispose();
      sVit.dispose();
      tf.dispose([x, y, query]);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// KiOP

export type KiopPresetName = keyof typeof kiopPresets & keyof typeof participantPresets;

/** Host and source datasets of the KiOP studies per preset (the README demo: MNIST host, Fashion-MNIST source; paper: GTSRB host, CIFAR-10 source). */
const KIOP_PAIR: Record<KiopPresetName, { host: { dataset: string; classes: number }; source: { dataset: string; classes: number } }> = {
  smoke: { host: { dataset: 'mnist', classes: 10 }, source: { dataset: 'fashionMnist', classes: 10 } },
  demo: { host: { dataset: 'mnist', classes: 10 }, source: { dataset: 'fashionMnist', classes: 10 } },
  cpu: { host: { dataset: 'mnist', classes: 10 }, source: { dataset: 'fashionMnist', classes: 10 } },
  paper: { host: { dataset: 'gtsrb', classes: 43 }, source: { dataset: 'cifar10', classes: 10 } },
};

/** The network spec torch_bench.py builds for a participant preset's architecture. */
function archSpec(bench: ParticipantPreset, classes: number): Record<string, unknown> {
  return { arch: bench.arch, config: bench.archConfig, classes };
}

function network(bench: ParticipantPreset, classes: number, seed: number): ClassifierModel {
  const m = createModel(bench.arch as 'bnCnn', { ...bench.archConfig, numClasses: classes, seed } as object) as unknown as ClassifierModel;
  m.setTrainable(false);
  return m;
}

/** A synthesizer stand-in whose bank always returns the same images (the step samples a batch from it). */
function fixedBank(images: tf.Tensor4D): Synthesizer {
  return {
    key: 'fixed',
    synthesize: () => Promise.reject(new Error('fixed bank: no synthesis in the bench step')),
    sample: (n) => tf.slice(images, [0, 0, 0, 0], [n, -1, -1, -1]),
    draw: (n) => tf.slice(images, [0, 0, 0, 0], [n, -1, -1, -1]),
    dispose: () => {},
  };
}

function kiopParts(presetName: KiopPresetName, batchOverride?: number, hostBnTrainMode?: boolean) {
  const preset = kiopPresets[presetName];
  const fidelity = { ...preset.fidelity, hostBnTrainMode: hostBnTrainMode ?? preset.fidelity.hostBnTrainMode };
  const config: KiopConfig = { ...preset, variant: 'kiopB', seed: 0, batchSize: batchOverride ?? preset.batchSize, fidelity };
  const bench = participantPresets[presetName];
  const pair = KIOP_PAIR[presetName];
  const host = network(bench, pair.host.classes, 1);
  const source = network(bench, pair.source.classes, 2);
  const [n0] = config.promptSizes as [number];
  const prompt = new SegmentedPrompt({ sizes: config.promptSizes, channels: host.inputChannels });
  const mappings = randomLabelMappingSlices(host.numClasses, [source.numClasses], config.seed);
  return { config, bench, pair, host, source, prompt, mappings, imageSize: n0 };
}

/**
 * The KiOP-B prompt session of a preset on fixed bank images and its host and source (see {@link kiopPromptStep});
 * `hostBnTrainMode` overrides the preset's host BatchNorm mode.
 */
export function kiopPromptSession(presetName: KiopPresetName, batchOverride?: number, hostBnTrainMode?: boolean) {
  const p = kiopParts(presetName, batchOverride, hostBnTrainMode);
  const { config } = p;
  const batch = config.batchSize;
  const n = p.imageSize;
  const c = p.host.inputChannels;
  const bankImages = tf.tidy(() => tf.div(tf.round(tf.mul(tf.randomUniform([batch, n, n, c], 0, 1, 'float32', 31), 255)), 255)) as tf.Tensor4D;
  const hostImages = tf.randomUniform([batch, n, n, c], 0, 1, 'float32', 32) as tf.Tensor4D;
  const ctx: KiopContext = {
    config,
    host: p.host,
    sources: [p.source],
    prompt: p.prompt,
    mappings: p.mappings,
    hostTest: () => [],
    sourceTests: [() => []],
    hostTrain: { next: (size) => tf.slice(hostImages, [0, 0, 0, 0], [size, -1, -1, -1]) },
    hostAugment: bankAugment(p.pair.host.dataset),
    sourceAugment: [bankAugment(p.pair.source.dataset)],
    createSynthesizer: () => fixedBank(bankImages),
    rng: Rng.fromSeed(0),
  };
  const session = createPromptSession(ctx, 'real');
  return {
    p,
    config,
    session,
    dispose() {
      session.dispose();
      p.prompt.dispose();
      (p.host as unknown as { dispose(): void }).dispose();
      (p.source as unknown as { dispose(): void }).dispose();
      tf.dispose([bankImages, hostImages]);
    },
  };
}

/**
 * One KiOP-B knowledge-storing step of a KiOP preset: `knowledgeStoringStep` of `@promptkd/kiop` on the prompt
 * session of KiOP-B (bank B: synthetic source images through the source's bank augmentation; bank A: real host
 * images), i.e.
 * ```
 * L = β·τ²·KL(f_B(x_B) ‖ LM(f_A(PP(PC(x_B))))) + α·τ²·KL(f_A(x_A) ‖ f_A(PC(x_A)))      (τ 20, α = β = 1)
 * SGD(lr 0.8, momentum 0.9, weight decay 1e-4) on the nested prompt [PC, PP]
 * ```
 * with host and source from the preset's architecture (`participantPresets` of `@promptkd/kiop`), eval-mode BN.
 * `microBatch` runs the step as gradient accumulation over micro-batches of that many rows.
 */
export function kiopPromptStep(presetName: KiopPresetName, batchOverride?: number, microBatch?: number): BenchModel {
  const ks = kiopPromptSession(presetName, batchOverride);
  const { p, config, session } = ks;
  const batch = config.batchSize;
  const c = p.host.inputChannels;
  const vars = session.trainableVariables();
  const stepConfig = { weightDecay: config.weightDecay, ...(microBatch ? { microBatch } : {}) };
  const start = (): BenchSession => {
    const opt = momentum(config.lr, config.momentum);
    return {
      step: () => tf.scalar(knowledgeStoringStep(session, opt, stepConfig).loss as number),
      dispose: () => opt.dispose(),
    };
  };
  const forward = (): tf.Tensor => tf.tidy(() => tf.addN(Object.values(session.lossTerms())));
  return {
    name: `kiop-${presetName}-prompt`,
    batch,
    params: { trainable: numel(vars), frozen: frozenParams(p.host) + frozenParams(p.source) },
    flopsRule: 'counted (executed kernels)',
    countFlops: () => profiledFlops(forward, start),
    forward,
    start,
    torchSpec: {
      kind: 'kiop-prompt',
      batch,
      host: archSpec(p.bench, p.pair.host.classes),
      source: archSpec(p.bench, p.pair.source.classes),
      channels: c,
      promptSizes: [...config.promptSizes],
      mapping: [...p.mappings[0]!.mapping],
      greyBank: p.pair.source.dataset === 'mnist' || p.pair.source.dataset === 'fashionMnist',
      cropFlipBank: p.pair.source.dataset === 'cifar10' || p.pair.source.dataset === 'cifar100',
      temperature: config.temperature,
      alpha: config.alpha,
      beta: config.beta,
      lr: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      ...(microBatch ? { note: `ours: micro-batches of ${microBatch}` } : {}),
    },
    dispose: () => ks.dispose(),
  };
}

function frozenParams(m: ClassifierModel): number {
  const named = (m as unknown as { namedVariables(): ReadonlyMap<string, tf.Variable> }).namedVariables();
  let total = 0;
  for (const [k, v] of named) if (!k.endsWith('running_mean') && !k.endsWith('running_var') && !k.endsWith('num_batches_tracked')) total += v.size;
  return total;
}

/**
 * One CMI generator iteration of a KiOP preset's synthesis for bank B (the body of `CMISynthesizer.synthesize`,
 * written with the same `@promptkd/data-free` functions), adversary = SMB (the host through the prompt):
 * ```
 * x = G(z) (train-mode BN);  x_g = flip(crop_pad4(x)),  x_l = flip(resized_crop(x))       (per-sample views)
 * L = bn·Σ_ℓ(‖σ²_run − σ²(x_g)‖ + ‖μ_run − μ(x_g)‖) + oh·CE(f_B(x_g), y) + adv·L_adv(f_B(x_g), SMB(x_g))
 *   + cr·L_cr(h, l = feats(f_B(x_l)), g = feats(f_B(x_g)), nNeg cached rows)
 * Adam(lr_g, 0.5, 0.999) on G and z; Adam(lr_g) on the contrastive head h
 * ```
 */
export function kiopSynthesisStep(presetName: KiopPresetName, batchOverride?: number): BenchModel {
  const p = kiopParts(presetName, batchOverride);
  const { config } = p;
  const s = config.synthesis;
  const batch = config.batchSize;
  const teacher = p.source;
  const fused = new FusedModels(p.host, p.prompt, p.mappings, config.fidelity);
  const student = (x: tf.Tensor4D): tf.Tensor2D => fused.smk(1, x);
  const generator = new CmiGenerator({ nz: s.nz, ngf: s.ngf, imageSize: p.imageSize, channels: teacher.inputChannels, seed: 3 });
  const cfg = resolveCmiConfig({ batchSize: batch, iterations: s.gSteps, nz: s.nz, lrGenerator: s.lrG, lrHead: s.lrG, bn: s.bn, oh: s.oh, adv: s.adv, cr: s.cr, crTemperature: s.crT, bankCapacity: s.bankCapacity, negatives: s.nNeg, headDim: s.headOut, headHidden: s.headHidden === 'feature' ? undefined : s.headHidden });
  const featureDim = tf.tidy(() => (teacher.apply(tf.zeros([2, p.imageSize, p.imageSize, teacher.inputChannels]), { training: false, bnTaps: true }).bn ?? []).reduce((a, t) => a + (t.mean.shape[0] ?? 0), 0));
  const head = new ContrastiveHead({ inputDim: featureDim, hiddenDim: cfg.headHidden, outputDim: cfg.headDim, rng: Rng.fromSeed(4) });
  const z = tf.variable(tf.randomNormal([batch, s.nz], 0, 1, 'float32', 5), true) as tf.Variable<tf.Rank.R2>;
  const genVars = [...generator.trainableVariables(), z];
  const headVars = head.trainableVariables();
  const rng = Rng.fromSeed(6);
  const targets = sortedRandomTargets(batch, teacher.numClasses, rng);
  const [, h, w] = [batch, p.imageSize, p.imageSize];
  // Fixed random views (drawn once: their cost is the JS sampling, the same every iteration).
  const offsets = sampleCropOffsets(batch, cfg.cropPadding, rng);
  const flipsG = sampleFlips(batch, rng);
  const boxes = sampleResizedCropBoxes(batch, h, w, rng, { scale: cfg.localScale });
  const flipsL = sampleFlips(batch, rng);
  const m = Math.min(cfg.negatives, cfg.bankCapacity);
  const cached = tf.tidy(() => tf.split(tf.randomNormal([m, 2 * featureDim], 0, 1, 'float32', 7), 2, 1) as [tf.Tensor2D, tf.Tensor2D]);
  const loss = (): tf.Scalar => {
    const x = generator.apply(z, { training: true });
    const xg = horizontalFlip(randomCropWithPadding(x, cfg.cropPadding, offsets), flipsG);
    const outG = teacher.apply(xg, { training: false, bnTaps: true });
    const tapsG = outG.bn ?? [];
    const lBn = bnStatisticsLoss(tapsG);
    const lOh = classPriorLoss(outG.logits, targets);
    const lAdv = adversarialLoss(outG.logits, student(xg));
    const xl = horizontalFlip(randomResizedCrop(x, boxes), flipsL);
    const g = instanceMeanFeatures(tapsG);
    const l = instanceMeanFeatures(teacher.apply(xl, { training: false, bnTaps: true }).bn ?? []);
    const lCr = cmiContrastiveLoss(head, { local: l, global: g, cachedLocal: cached[0], cachedGlobal: cached[1] }, cfg.crTemperature);
    return tf.addN([tf.mul(lBn, cfg.bn), tf.mul(lOh, cfg.oh), tf.mul(lAdv, cfg.adv), tf.mul(lCr, cfg.cr)]) as tf.Scalar;
  };
  const start = (): BenchSession => {
    const optG = adam(cfg.lrGenerator, cfg.betas[0], cfg.betas[1], 1e-8);
    const optH = adam(cfg.lrHead, 0.9, 0.999, 1e-8);
    return {
      step: () => {
        const { value, grads } = tf.variableGrads(loss, [...genVars, ...headVars]);
        optG.applyGradients(genVars.map((v) => ({ name: v.name, tensor: grads[v.name] as tf.Tensor })));
        optH.applyGradients(headVars.map((v) => ({ name: v.name, tensor: grads[v.name] as tf.Tensor })));
        tf.dispose(Object.values(grads));
        return value;
      },
      dispose: () => {
        optG.dispose();
        optH.dispose();
      },
    };
  };
  return {
    name: `kiop-${presetName}-synthesis`,
    batch,
    params: { trainable: numel([...genVars, ...headVars]), frozen: frozenParams(p.host) + frozenParams(teacher) },
    flopsRule: 'counted (executed kernels)',
    countFlops: () => profiledFlops(loss, start),
    forward: loss,
    start,
    torchSpec: {
      kind: 'kiop-synthesis',
      batch,
      host: archSpec(p.bench, p.pair.host.classes),
      source: archSpec(p.bench, p.pair.source.classes),
      channels: teacher.inputChannels,
      promptSizes: [...config.promptSizes],
      mapping: [...p.mappings[0]!.mapping],
      nz: s.nz,
      ngf: s.ngf,
      imageSize: p.imageSize,
      weights: { bn: cfg.bn, oh: cfg.oh, adv: cfg.adv, cr: cfg.cr },
      crT: cfg.crTemperature,
      headHidden: cfg.headHidden ?? featureDim,
      headOut: cfg.headDim,
      featureDim,
      negatives: m,
      lrG: cfg.lrGenerator,
      lrHead: cfg.lrHead,
      betas: [...cfg.betas],
      cropPadding: cfg.cropPadding,
      targets,
      offsets: offsets.map((o) => [o.top, o.left]),
      flipsG,
      boxes: boxes.map((b) => [b.top, b.left, b.height, b.width]),
      flipsL,
    },
    dispose: () => {
      head.dispose();
      generator.dispose();
      z.dispose();
      p.prompt.dispose();
      (p.host as unknown as { dispose(): void }).dispose();
      (teacher as unknown as { dispose(): void }).dispose();
      tf.dispose(cached);
    },
  };
}

/** Options every workload factory takes: a batch override, and micro-batches for the KiOP prompt steps. */
export interface WorkloadOptions {
  readonly batch?: number;
  readonly microBatch?: number;
}

export const STUDY_MODELS: Record<string, (o?: WorkloadOptions) => BenchModel> = {
  'kdp-cpu-student': (o = {}) => kdpStudentStep('cpu', o.batch),
  'kiop-demo-prompt': (o = {}) => kiopPromptStep('demo', o.batch, o.microBatch),
  'kiop-demo-synthesis': (o = {}) => kiopSynthesisStep('demo', o.batch),
  'kiop-cpu-prompt': (o = {}) => kiopPromptStep('cpu', o.batch, o.microBatch),
  'kiop-cpu-synthesis': (o = {}) => kiopSynthesisStep('cpu', o.batch),
  'kiop-paper-prompt': (o = {}) => kiopPromptStep('paper', o.batch, o.microBatch),
};

/** Workloads left out of the default list (minutes per step pair): run them by name. */
export const ON_REQUEST = new Set(['kiop-paper-prompt']);
