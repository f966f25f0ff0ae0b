/**
 * Self-contained benchmark workloads written with plain tf ops (deliberately NOT @promptkd/models), each defined
 * identically in scripts/bench/torch_bench.py:
 *
 * - `small-cnn`, `resnet18-cifar`, `vit-tiny-p4`: one supervised training step (forward + backward + optimizer);
 * - `kiop-prompt-step`: one KiOP-B knowledge-storing step — only the two padding prompts are trained, through a
 *   frozen torchvision-style ResNet-18 host at a 128 px canvas;
 * - `cmi-synthesis-step`: one CMI generator iteration — generator + z trained through a frozen ResNet-18-CIFAR
 *   teacher (BN feature-statistics loss, cross-entropy) and a frozen small-CNN adversary.
 *
 * Every workload counts its forward FLOPs (2 × MACs of convs and matmuls) as it runs; each states how many of
 * those a step costs (see {@link BenchModel.flopsRule} and scripts/bench/README.md).
 */
import * as tf from '@tensorflow/tfjs';
import { adam, batchNormTraining, channelAffine, channelMoments, gelu, globalAvgPool, l2Norm, layerNorm, momentum, qkvAttention } from '@promptkd/core';
import { adversarialLoss } from '@promptkd/data-free';
import { ON_REQUEST, STUDY_MODELS, type WorkloadOptions } from './study-workloads.js';

/** One training run of a workload: its optimizer state and a step. */
export interface BenchSession {
  /** One training step: forward, backward, optimizer update. Returns the loss; the caller reads and disposes it. */
  step(): tf.Scalar;
  dispose(): void;
}

export interface BenchModel {
  readonly name: string;
  readonly batch: number;
  /** Parameter counts: trainable (what the step's optimizer updates) and frozen (weights that get no update; BN running stats excluded). */
  readonly params: { readonly trainable: number; readonly frozen: number };
  /** How the step's FLOPs follow from the forward FLOPs, e.g. `3 × fwd`, or `counted (executed kernels)`. */
  readonly flopsRule: string;
  /** Forward FLOPs of everything a step evaluates, and the FLOPs of the whole step; runs the forward passes once. */
  countFlops(): { forward: number; step: number } | Promise<{ forward: number; step: number }>;
  /** Every forward pass of one step, without gradients (call inside tf.tidy); returns a tensor to read. */
  forward(): tf.Tensor;
  /** A fresh optimizer state and its step. */
  start(): BenchSession;
  /** What torch_bench.py builds for this workload (sent with `setup`); absent: the workload of the same name. */
  readonly torchSpec?: Record<string, unknown>;
  dispose(): void;
}

let macs = 0;
/** Forward FLOPs (2·MACs) of one call of `fn`. */
function countFlopsOf(fn: () => void): number {
  macs = 0;
  tf.tidy(fn);
  return 2 * macs;
}

let seed = 1000;
function param(shape: number[], fanIn: number): tf.Variable {
  return tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++));
}
const ones = (n: number): tf.Variable => tf.variable(tf.ones([n]));
const zeros = (n: number): tf.Variable => tf.variable(tf.zeros([n]));
const numel = (ts: readonly tf.Tensor[]): number => ts.reduce((s, t) => s + t.size, 0);

function conv(x: tf.Tensor4D, w: tf.Tensor, stride: number): tf.Tensor4D {
  const [kh, kw, ci, co] = w.shape as [number, number, number, number];
  const y = tf.conv2d(x, w as tf.Tensor4D, stride, 'same');
  macs += y.shape[0] * y.shape[1] * y.shape[2] * co * kh * kw * ci;
  return y;
}

function linear(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  macs += x.shape[0] * x.shape[1] * (w.shape[1] as number);
  const y = tf.matMul(x, w as tf.Tensor2D) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

interface Bn {
  g: tf.Variable;
  b: tf.Variable;
}
const bnParams = (c: number): Bn => ({ g: ones(c), b: zeros(c) });
/** Training-mode BatchNorm (batch statistics). */
/** Training-mode BatchNorm2d: promptkd's batchNormTraining (@promptkd/core), one fused kernel each way where registered. */
function bn(x: tf.Tensor4D, p: Bn): tf.Tensor4D {
  return batchNormTraining(x, p.g, p.b, 1e-5).y;
}

function data(batch: number, hw: number, classes: number, dataSeed = 7): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.randomNormal([batch, hw, hw, 3], 0, 1, 'float32', dataSeed);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % classes), 'int32');
  const y = tf.oneHot(labels, classes);
  labels.dispose();
  return { x, y };
}

/** A session that runs `step` with one tf optimizer. */
function optimizerSession(opt: tf.Optimizer, step: (opt: tf.Optimizer) => tf.Scalar): BenchSession {
  return { step: () => step(opt), dispose: () => opt.dispose() };
}

/** A supervised classifier step: softmax cross-entropy on `forward(x)`, gradients for every variable. */
function classifier(
  name: string,
  batch: number,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor,
  forward: (x: tf.Tensor) => tf.Tensor2D,
  makeOptimizer: () => tf.Optimizer,
): BenchModel {
  return {
    name,
    batch,
    params: { trainable: numel(vars), frozen: 0 },
    flopsRule: '3 × fwd',
    countFlops() {
      const f = countFlopsOf(() => void forward(x));
      return { forward: f, step: 3 * f };
    },
    forward: () => forward(x),
    start: () => optimizerSession(makeOptimizer(), (opt) => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as tf.Scalar, true, vars) as tf.Scalar),
    dispose: () => tf.dispose([...vars, x, y]),
  };
}

/** (a) conv3×3 3→32 @32², BN, ReLU, maxpool, conv 32→64, BN, ReLU, maxpool, conv 64→64, BN, ReLU, GAP, dense→10. */
export function smallCnn(batch = 64): BenchModel {
  const w1 = param([3, 3, 3, 32], 27);
  const w2 = param([3, 3, 32, 64], 288);
  const w3 = param([3, 3, 64, 64], 576);
  const b1 = bnParams(32);
  const b2 = bnParams(64);
  const b3 = bnParams(64);
  const wd = param([64, 10], 64);
  const bd = zeros(10);
  const vars = [w1, w2, w3, b1.g, b1.b, b2.g, b2.b, b3.g, b3.b, wd, bd];
  const { x, y } = data(batch, 32, 10);
  const forward = (inp: tf.Tensor): tf.Tensor2D => {
    let h = tf.maxPool(tf.relu(bn(conv(inp as tf.Tensor4D, w1, 1), b1)), 2, 2, 'valid');
    h = tf.maxPool(tf.relu(bn(conv(h, w2, 1), b2)), 2, 2, 'valid');
    h = tf.relu(bn(conv(h, w3, 1), b3));
    return linear(globalAvgPool(h), wd, bd);
  };
  return classifier('small-cnn', batch, vars, x, y, forward, () => momentum(0.01, 0.9));
}

/** (b) ResNet-18 for CIFAR: 3×3 stem, no max-pool, 4 stages × 2 BasicBlocks (64..512), 1×1 projections, BN. */
export function resnet18(batch = 32): BenchModel {
  const vars: tf.Variable[] = [];
  const keep = <T extends tf.Variable>(v: T): T => (vars.push(v), v);
  const keepBn = (c: number): Bn => {
    const p = bnParams(c);
    vars.push(p.g, p.b);
    return p;
  };
  const stem = keep(param([3, 3, 3, 64], 27));
  const stemBn = keepBn(64);
  interface Block {
    stride: number;
    w1: tf.Variable;
    n1: Bn;
    w2: tf.Variable;
    n2: Bn;
    proj?: { w: tf.Variable; n: Bn };
  }
  const blocks: Block[] = [];
  let cin = 64;
  for (const [i, c] of [64, 128, 256, 512].entries()) {
    for (let j = 0; j < 2; j++) {
      const stride = i > 0 && j === 0 ? 2 : 1;
      const blk: Block = {
        stride,
        w1: keep(param([3, 3, cin, c], 9 * cin)),
        n1: keepBn(c),
        w2: keep(param([3, 3, c, c], 9 * c)),
        n2: keepBn(c),
      };
      if (stride !== 1 || cin !== c) blk.proj = { w: keep(param([1, 1, cin, c], cin)), n: keepBn(c) };
      blocks.push(blk);
      cin = c;
    }
  }
  const wd = keep(param([512, 10], 512));
  const bd = keep(zeros(10));
  const { x, y } = data(batch, 32, 10);
  const forward = (inp: tf.Tensor): tf.Tensor2D => {
    let h = tf.relu(bn(conv(inp as tf.Tensor4D, stem, 1), stemBn));
    for (const b of blocks) {
      const o = tf.relu(bn(conv(h, b.w1, b.stride), b.n1));
      const o2 = bn(conv(o, b.w2, 1), b.n2);
      const sc = b.proj ? bn(conv(h, b.proj.w, b.stride), b.proj.n) : h;
      h = tf.relu(tf.add(o2, sc)) as tf.Tensor4D;
    }
    return linear(globalAvgPool(h), wd, bd);
  };
  return classifier('resnet18-cifar', batch, vars, x, y, forward, () => momentum(0.01, 0.9));
}

/** (c) ViT-Tiny, patch 4 at 32 px: 64 patches + CLS, D=192, depth 12, 3 heads, MLP 768, pre-LN, GELU (erf). */
export function vitTiny(batch = 32): BenchModel {
  const d = 192;
  const heads = 3;
  const dh = d / heads;
  const mlp = 768;
  const depth = 12;
  const tokens = 65;
  const vars: tf.Variable[] = [];
  const keep = (v: tf.Variable): tf.Variable => (vars.push(v), v);
  const patch = keep(param([48, d], 48));
  const patchB = keep(zeros(d));
  const cls = keep(tf.variable(tf.randomNormal([1, 1, d], 0, 0.02, 'float32', seed++)));
  const pos = keep(tf.variable(tf.randomNormal([1, tokens, d], 0, 0.02, 'float32', seed++)));
  const ln = (): { g: tf.Variable; b: tf.Variable } => ({ g: keep(ones(d)), b: keep(zeros(d)) });
  const blocks = Array.from({ length: depth }, () => ({
    ln1: ln(),
    qkv: keep(param([d, 3 * d], d)),
    qkvB: keep(zeros(3 * d)),
    proj: keep(param([d, d], d)),
    projB: keep(zeros(d)),
    ln2: ln(),
    fc1: keep(param([d, mlp], d)),
    fc1B: keep(zeros(mlp)),
    fc2: keep(param([mlp, d], mlp)),
    fc2B: keep(zeros(d)),
  }));
  const lnF = ln();
  const head = keep(param([d, 10], d));
  const headB = keep(zeros(10));
  const { x, y } = data(batch, 32, 10);
  // promptkd's layer norm and exact GELU (@promptkd/core): one fused kernel each way where the backend has it.
  const norm = (t: tf.Tensor2D, p: { g: tf.Variable; b: tf.Variable }): tf.Tensor2D => layerNorm(t, p.g, p.b, 1e-6);
  const forward = (inp: tf.Tensor): tf.Tensor2D => {
    const b = inp.shape[0] as number;
    // Patch embedding as a matmul of flattened 4×4×3 patches (equivalent to a 4×4/4 conv; it keeps the stock
    // wasm backend able to train the ViT, whose only conv weight gradient would otherwise be missing).
    const patches = tf.reshape(tf.transpose(tf.reshape(inp, [b, 8, 4, 8, 4, 3]), [0, 1, 3, 2, 4, 5]), [b * 64, 48]);
    const emb = linear(patches as tf.Tensor2D, patch, patchB); // [B·64, D]
    const seq = tf.concat([tf.tile(cls, [b, 1, 1]), tf.reshape(emb, [b, 64, d])], 1);
    let h = tf.reshape(tf.add(seq, pos), [b * tokens, d]) as tf.Tensor2D;
    for (const blk of blocks) {
      const qkv = linear(norm(h, blk.ln1), blk.qkv, blk.qkvB);
      // softmax(q·kᵀ/√dh)·v per head, read from the packed qkv ([B, T, 3, H, dh] as PyTorch reshapes it)
      const ctx = qkvAttention(tf.reshape(qkv, [b, tokens, 3 * d]) as tf.Tensor3D, heads, 1 / Math.sqrt(dh));
      macs += 2 * b * heads * tokens * tokens * dh;
      const merged = tf.reshape(ctx, [b * tokens, d]);
      h = tf.add(h, linear(merged as tf.Tensor2D, blk.proj, blk.projB));
      const m = linear(gelu(linear(norm(h, blk.ln2), blk.fc1, blk.fc1B)) as tf.Tensor2D, blk.fc2, blk.fc2B);
      h = tf.add(h, m);
    }
    const out = norm(h, lnF);
    const clsOut = tf.reshape(tf.slice(tf.reshape(out, [b, tokens, d]), [0, 0, 0], [b, 1, d]), [b, d]);
    return linear(clsOut as tf.Tensor2D, head, headB);
  };
  return classifier('vit-tiny-p4', batch, vars, x, y, forward, () => adam(1e-3));
}

// ---------------------------------------------------------------------------------------------------------------
// Frozen networks (plain tensors, no variables): BN in eval mode, i.e. a fixed per-channel affine from running stats.

/** An eval-mode BatchNorm: weight, bias (counted as parameters) and running mean/var (buffers). */
interface FrozenBn {
  g: tf.Tensor1D;
  b: tf.Tensor1D;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Frozen weights of one network and a parameter count that excludes BN running statistics (as torch's). */
class Frozen {
  readonly tensors: tf.Tensor[] = [];
  params = 0;
  weight(shape: number[], fanIn: number): tf.Tensor {
    const t = tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++);
    this.tensors.push(t);
    this.params += t.size;
    return t;
  }
  bias(n: number): tf.Tensor1D {
    const t = tf.zeros([n]) as tf.Tensor1D;
    this.tensors.push(t);
    this.params += n;
    return t;
  }
  bn(c: number): FrozenBn {
    const p = { g: tf.ones([c]) as tf.Tensor1D, b: tf.zeros([c]) as tf.Tensor1D, mean: tf.zeros([c]) as tf.Tensor1D, variance: tf.ones([c]) as tf.Tensor1D };
    this.tensors.push(p.g, p.b, p.mean, p.variance);
    this.params += 2 * c;
    return p;
  }
}

/** Called with every BN layer's input (the CMI teacher's feature-statistics loss hooks here). */
type BnTap = (input: tf.Tensor4D, bn: FrozenBn) => void;

/**
 * Eval-mode BN as promptkd's models run it (`BatchNorm2d` in packages/models): x·s + t, s = γ/√(σ²_run + ε),
 * t = β − μ_run·s, then ReLU when `relu`, in one `channelAffine` (@promptkd/core).
 */
function frozenBn(x: tf.Tensor4D, p: FrozenBn, tap?: BnTap, relu = false): tf.Tensor4D {
  tap?.(x, p);
  const scale = tf.mul(tf.rsqrt(tf.add(p.variance, 1e-5)), p.g);
  return channelAffine(x, scale, tf.sub(p.b, tf.mul(p.mean, scale)), { relu });
}

interface FrozenResNet {
  readonly frozen: Frozen;
  forward(x: tf.Tensor4D, tap?: BnTap): tf.Tensor2D;
}

/**
 * A frozen ResNet-18 (eval-mode BN). `cifar`: 3×3/1 stem, no max-pool. `imagenet` (torchvision): 7×7/2 stem,
 * BN, ReLU, 3×3/2 max-pool. Both: 4 stages × 2 BasicBlocks (64..512), 1×1 projections, GAP, fc → `classes`.
 */
function frozenResNet18(kind: 'cifar' | 'imagenet', classes: number): FrozenResNet {
  const f = new Frozen();
  const k = kind === 'cifar' ? 3 : 7;
  const stem = f.weight([k, k, 3, 64], k * k * 3);
  const stemBn = f.bn(64);
  const blocks: { stride: number; w1: tf.Tensor; n1: FrozenBn; w2: tf.Tensor; n2: FrozenBn; proj?: { w: tf.Tensor; n: FrozenBn } }[] = [];
  let cin = 64;
  for (const [i, c] of [64, 128, 256, 512].entries()) {
    for (let j = 0; j < 2; j++) {
      const stride = i > 0 && j === 0 ? 2 : 1;
      const blk: (typeof blocks)[number] = { stride, w1: f.weight([3, 3, cin, c], 9 * cin), n1: f.bn(c), w2: f.weight([3, 3, c, c], 9 * c), n2: f.bn(c) };
      if (stride !== 1 || cin !== c) blk.proj = { w: f.weight([1, 1, cin, c], cin), n: f.bn(c) };
      blocks.push(blk);
      cin = c;
    }
  }
  const wd = f.weight([512, classes], 512);
  const bd = f.bias(classes);
  return {
    frozen: f,
    forward(x, tap) {
      let h = frozenBn(conv(x, stem, kind === 'cifar' ? 1 : 2), stemBn, tap, true);
      if (kind === 'imagenet') h = tf.maxPool(h, 3, 2, 'same');
      for (const b of blocks) {
        const o = frozenBn(conv(h, b.w1, b.stride), b.n1, tap, true);
        const o2 = frozenBn(conv(o, b.w2, 1), b.n2, tap);
        const sc = b.proj ? frozenBn(conv(h, b.proj.w, b.stride), b.proj.n, tap) : h;
        h = tf.relu(tf.add(o2, sc)) as tf.Tensor4D;
      }
      return linear(globalAvgPool(h), wd, bd);
    },
  };
}

/** The `small-cnn` architecture, frozen (eval-mode BN): the CMI step's adversarial student. */
function frozenSmallCnn(classes: number): FrozenResNet {
  const f = new Frozen();
  const w1 = f.weight([3, 3, 3, 32], 27);
  const n1 = f.bn(32);
  const w2 = f.weight([3, 3, 32, 64], 288);
  const n2 = f.bn(64);
  const w3 = f.weight([3, 3, 64, 64], 576);
  const n3 = f.bn(64);
  const wd = f.weight([64, classes], 64);
  const bd = f.bias(classes);
  return {
    frozen: f,
    forward(x) {
      let h = tf.maxPool(frozenBn(conv(x, w1, 1), n1, undefined, true), 2, 2, 'valid');
      h = tf.maxPool(frozenBn(conv(h, w2, 1), n2, undefined, true), 2, 2, 'valid');
      h = frozenBn(conv(h, w3, 1), n3, undefined, true);
      return linear(globalAvgPool(h), wd, bd);
    },
  };
}

/** τ²·(1/N)·Σ_i Σ_c p_ic (log p_ic − log q_ic), p = softmax(u/τ), q = softmax(v/τ) (the KiOP/CMI `kldiv`, batchmean). */
function klDiv(u: tf.Tensor2D, v: tf.Tensor2D, tau: number): tf.Scalar {
  const lp = tf.logSoftmax(tf.div(u, tau));
  const lq = tf.logSoftmax(tf.div(v, tau));
  return tf.mul(tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq))), (tau * tau) / (u.shape[0] as number));
}

/** An ILM-VP/KiOP "expansive" padding prompt n→m: zero-pad the image, add sigmoid(θ) on the ring (θ zero-init). */
function paddingPrompt(n: number, m: number): { theta: tf.Variable; mask: tf.Tensor; apply(x: tf.Tensor4D): tf.Tensor4D } {
  const l = Math.floor((m - n + 1) / 2);
  const r = Math.floor((m - n) / 2);
  const theta = tf.variable(tf.zeros([1, m, m, 3]));
  const mask = tf.tidy(() => tf.sub(1, tf.pad(tf.ones([1, n, n, 3]), [[0, 0], [l, r], [l, r], [0, 0]])));
  return {
    theta,
    mask,
    apply: (x) => tf.add(tf.pad(x, [[0, 0], [l, r], [l, r], [0, 0]]), tf.mul(tf.sigmoid(theta), mask)),
  };
}

/** Host classes K_A (GTSRB), source classes K_B (CIFAR-10), KD temperature τ of KiOP's scripts. */
const KIOP_HOST_CLASSES = 43;
const KIOP_SOURCE_CLASSES = 10;
const KIOP_TAU = 20;
/** The fixed label mapping π: source class j reads host logit 4j + 3 (a fixed selection of 10 of the 43). */
export const KIOP_LABEL_MAP: readonly number[] = Array.from({ length: KIOP_SOURCE_CLASSES }, (_, j) => 4 * j + 3);

/**
 * (d) One KiOP-B knowledge-storing step (kiop-spec §2, §4.1, §4.3), batch 32 from each bank (the reference's 128 does
 * not fit the 4 GiB wasm heap with a 128 px host: tfjs keeps every activation of the step there):
 * ```
 * PC = prompt 32→36, PP = prompt 36→128; SMB(x) = host(PP(PC(x)))[:, π]; SMA(x) = host(PC(x))
 * t = source(x_B), a = host(x_A)                      (no gradient)
 * L = KL_τ(t ‖ SMB(x_B)) + KL_τ(SMA(x_A) ‖ a)          (τ = 20; the second term's target is SMA, as the code)
 * SGD(lr 0.8, momentum 0.9) on θ_PC, θ_PP only
 * ```
 * Host = frozen torchvision ResNet-18 (43 classes), source = frozen ResNet-18-CIFAR (10 classes); both eval-mode BN.
 * Step FLOPs = 2 × (host@128 + host@36 forward) + host@32 + source forward: the frozen networks need input
 * gradients only (no weight gradients), and the two no-gradient passes run once.
 */
export function kiopPromptStep(batch = 32): BenchModel {
  const host = frozenResNet18('imagenet', KIOP_HOST_CLASSES);
  const source = frozenResNet18('cifar', KIOP_SOURCE_CLASSES);
  const pc = paddingPrompt(32, 36);
  const pp = paddingPrompt(36, 128);
  const vars = [pc.theta, pp.theta];
  const pi = tf.tensor1d([...KIOP_LABEL_MAP], 'int32');
  const xB = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 11);
  const xA = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 12);
  const smb = (x: tf.Tensor4D): tf.Tensor2D => tf.gather(host.forward(pp.apply(pc.apply(x))), pi, 1);
  const sma = (x: tf.Tensor4D): tf.Tensor2D => host.forward(pc.apply(x));
  const xb = xB as tf.Tensor4D;
  const xa = xA as tf.Tensor4D;
  return {
    name: 'kiop-prompt-step',
    batch,
    params: { trainable: numel(vars), frozen: host.frozen.params + source.frozen.params },
    flopsRule: '2 × (host@128 + host@36) + host@32 + source',
    countFlops() {
      const f1 = countFlopsOf(() => void smb(xb));
      const f2 = countFlopsOf(() => void sma(xa));
      const f3 = countFlopsOf(() => void host.forward(xa));
      const f4 = countFlopsOf(() => void source.forward(xb));
      return { forward: f1 + f2 + f3 + f4, step: 2 * (f1 + f2) + f3 + f4 };
    },
    forward: () => tf.add(klDiv(source.forward(xb), smb(xb), KIOP_TAU), klDiv(sma(xa), host.forward(xa), KIOP_TAU)),
    start: () =>
      optimizerSession(momentum(0.8, 0.9), (opt) => {
        const [t, a] = tf.tidy(() => [source.forward(xb), host.forward(xa)]) as [tf.Tensor2D, tf.Tensor2D];
        try {
          return opt.minimize(() => tf.add(klDiv(t, smb(xb), KIOP_TAU), klDiv(sma(xa), a, KIOP_TAU)) as tf.Scalar, true, vars) as tf.Scalar;
        } finally {
          tf.dispose([t, a]);
        }
      }),
    dispose: () => tf.dispose([...vars, pc.mask, pp.mask, pi, xB, xA, ...host.frozen.tensors, ...source.frozen.tensors]),
  };
}

/** Nearest ×2 upsampling with its exact adjoint (a 2×2 sum pool) as gradient; the stock concat gradient is slow. */
const upsample2x = tf.customGrad(((x: tf.Tensor) => {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const wide = tf.reshape(tf.concat([x, x], 3), [n, h, 2 * w, c]);
  const value = tf.reshape(tf.concat([wide, wide], 2), [n, 2 * h, 2 * w, c]);
  return { value, gradFunc: (dy: tf.Tensor) => tf.mul(tf.avgPool(dy as tf.Tensor4D, 2, 2, 'valid'), 4) };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D) => tf.Tensor4D;

const CIFAR_MEAN = [0.4914, 0.4822, 0.4465];
const CIFAR_STD = [0.2023, 0.1994, 0.201];

/**
 * (e) One CMI generator iteration (kiop-spec §3.1–3.2, without the augmentations and the contrastive term),
 * batch 64 (KiOP-B synthesises 128; at 128 the step's activations approach the 4 GiB wasm heap):
 * ```
 * x = G(z) (Linear 256→128·8·8, BN, up×2, conv3×3 128→128, BN, LReLU .2, up×2, conv 128→64, BN, LReLU, conv 64→3, sigmoid)
 * o_T = teacher(norm(x)), o_S = student(norm(x))      (both frozen, eval-mode BN)
 * L = Σ_ℓ ‖var_ℓ − rv_ℓ‖₂ + ‖mean_ℓ − rm_ℓ‖₂  (input stats of each of the teacher's 20 BN layers)
 *   + CE(o_T, y) − 0.5 · mean_i [argmax o_S,i = argmax o_T,i] · KL(p_T,i ‖ p_S,i)
 * Adam(lr 0.01, betas 0.5/0.999, eps 1e-8) on the generator's parameters and z
 * ```
 * Teacher = ResNet-18-CIFAR, adversarial student = the small CNN (both 10 classes). Step FLOPs = 3 × generator
 * + 2 × (teacher + student) forward: weight gradients only in the generator.
 */
export function cmiSynthesisStep(batch = 64): BenchModel {
  const nz = 256;
  const ngf = 64;
  const classes = 10;
  const w = (shape: number[]): tf.Variable => tf.variable(tf.randomNormal(shape, 0, 0.02, 'float32', seed++));
  const bnG = (c: number): Bn => ({ g: tf.variable(tf.randomNormal([c], 1, 0.02, 'float32', seed++)), b: zeros(c) });
  const l1w = w([nz, 2 * ngf * 8 * 8]);
  const l1b = zeros(2 * ngf * 8 * 8);
  const bn0 = bnG(2 * ngf);
  const c1 = w([3, 3, 2 * ngf, 2 * ngf]);
  const bn1 = bnG(2 * ngf);
  const c2 = w([3, 3, 2 * ngf, ngf]);
  const bn2 = bnG(ngf);
  const c3 = w([3, 3, ngf, 3]);
  const c3b = zeros(3);
  const z = tf.variable(tf.randomNormal([batch, nz], 0, 1, 'float32', 13));
  const vars = [l1w, l1b, bn0.g, bn0.b, c1, bn1.g, bn1.b, c2, bn2.g, bn2.b, c3, c3b, z];
  const teacher = frozenResNet18('cifar', classes);
  const student = frozenSmallCnn(classes);
  const mean = tf.tensor1d(CIFAR_MEAN);
  const std = tf.tensor1d(CIFAR_STD);
  // Targets: sorted, evenly spread over the classes (CMI draws them uniformly and sorts them).
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => Math.floor((i * classes) / batch)), 'int32'), classes));
  const generate = (): tf.Tensor4D => {
    let h = tf.reshape(linear(z as tf.Tensor2D, l1w, l1b), [batch, 8, 8, 2 * ngf]) as tf.Tensor4D;
    h = upsample2x(bn(h, bn0));
    h = upsample2x(tf.leakyRelu(bn(conv(h, c1, 1), bn1), 0.2));
    h = tf.leakyRelu(bn(conv(h, c2, 1), bn2), 0.2);
    return tf.sigmoid(tf.add(conv(h, c3, 1), c3b)) as tf.Tensor4D;
  };
  const normalize = (x: tf.Tensor4D): tf.Tensor4D => tf.div(tf.sub(x, mean), std);
  const loss = (): tf.Scalar => {
    const x = normalize(generate());
    const bnTerms: tf.Scalar[] = [];
    const tap: BnTap = (h, p) => {
      // promptkd's models and bnStatisticsLoss compute the BN-tap statistics and their distance with these
      const m = channelMoments(h);
      bnTerms.push(tf.add(l2Norm(tf.sub(p.variance, m.variance)), l2Norm(tf.sub(p.mean, m.mean))) as tf.Scalar);
    };
    const oT = teacher.forward(x, tap);
    const oS = student.forward(x);
    const lBn = tf.addN(bnTerms);
    const lOh = tf.losses.softmaxCrossEntropy(y, oT);
    const lAdv = adversarialLoss(oT, oS);
    return tf.addN([lBn, lOh, tf.mul(lAdv, 0.5)]) as tf.Scalar;
  };
  return {
    name: 'cmi-synthesis-step',
    batch,
    params: { trainable: numel(vars), frozen: teacher.frozen.params + student.frozen.params },
    flopsRule: '3 × generator + 2 × (teacher + student)',
    countFlops() {
      const g = countFlopsOf(() => void generate());
      const x = tf.tidy(() => normalize(generate()));
      const t = countFlopsOf(() => void teacher.forward(x));
      const s = countFlopsOf(() => void student.forward(x));
      x.dispose();
      return { forward: g + t + s, step: 3 * g + 2 * (t + s) };
    },
    forward: loss,
    start: () => optimizerSession(adam(0.01, 0.5, 0.999, 1e-8), (opt) => opt.minimize(loss, true, vars) as tf.Scalar),
    dispose: () => tf.dispose([...vars, mean, std, y, ...teacher.frozen.tensors, ...student.frozen.tensors]),
  };
}

export const MODELS: Record<string, (o?: WorkloadOptions) => BenchModel> = {
  'small-cnn': (o = {}) => smallCnn(o.batch),
  'resnet18-cifar': (o = {}) => resnet18(o.batch),
  'vit-tiny-p4': (o = {}) => vitTiny(o.batch),
  'kiop-prompt-step': (o = {}) => kiopPromptStep(o.batch),
  'cmi-synthesis-step': (o = {}) => cmiSynthesisStep(o.batch),
  ...STUDY_MODELS,
};

/** What `npm run bench` runs without `--models`. */
export const DEFAULT_MODELS = Object.keys(MODELS).filter((m) => !ON_REQUEST.has(m));
