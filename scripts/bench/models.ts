/**
 * Self-contained benchmark models written with plain tf ops (deliberately NOT @promptkd/models): a small BN CNN,
 * ResNet-18-CIFAR and ViT-Tiny/4 at 32 px. Every model counts its forward FLOPs (2 × MACs of convs and matmuls)
 * as it runs, so GFLOP/s can be reported; a training step is taken as 3 × forward.
 */
import * as tf from '@tensorflow/tfjs';

export interface BenchModel {
  readonly name: string;
  readonly batch: number;
  /** Trainable variables. */
  readonly vars: tf.Variable[];
  /** Input batch and one-hot labels. */
  readonly x: tf.Tensor;
  readonly y: tf.Tensor;
  /** Logits for `x`. */
  forward(x: tf.Tensor): tf.Tensor2D;
  /** Optimizer for the training step (momentum SGD for CNNs, Adam for the ViT). */
  makeOptimizer(): tf.Optimizer;
  dispose(): void;
}

let macs = 0;
/** Forward FLOPs (2·MACs) of one call of `fn`. */
export function countFlops(fn: () => void): number {
  macs = 0;
  fn();
  return 2 * macs;
}

let seed = 1000;
function param(shape: number[], fanIn: number): tf.Variable {
  return tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++));
}
const ones = (n: number): tf.Variable => tf.variable(tf.ones([n]));
const zeros = (n: number): tf.Variable => tf.variable(tf.zeros([n]));

function conv(x: tf.Tensor4D, w: tf.Variable, stride: number): tf.Tensor4D {
  const [kh, kw, ci, co] = w.shape as [number, number, number, number];
  const y = tf.conv2d(x, w as tf.Tensor4D, stride, 'same');
  macs += y.shape[0] * y.shape[1] * y.shape[2] * co * kh * kw * ci;
  return y;
}

function linear(x: tf.Tensor2D, w: tf.Variable, b?: tf.Variable): tf.Tensor2D {
  macs += x.shape[0] * x.shape[1] * (w.shape[1] as number);
  const y = tf.matMul(x, w as tf.Tensor2D) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

interface Bn {
  g: tf.Variable;
  b: tf.Variable;
}
const bnParams = (c: number): Bn => ({ g: ones(c), b: zeros(c) });
function bn(x: tf.Tensor4D, p: Bn): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, p.b, p.g, 1e-5) as tf.Tensor4D;
}

function data(batch: number, hw: number, classes: number): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.randomNormal([batch, hw, hw, 3], 0, 1, 'float32', 7);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % classes), 'int32');
  const y = tf.oneHot(labels, classes);
  labels.dispose();
  return { x, y };
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
  return {
    name: 'small-cnn',
    batch,
    vars,
    x,
    y,
    forward(inp) {
      let h = tf.maxPool(tf.relu(bn(conv(inp as tf.Tensor4D, w1, 1), b1)), 2, 2, 'valid');
      h = tf.maxPool(tf.relu(bn(conv(h, w2, 1), b2)), 2, 2, 'valid');
      h = tf.relu(bn(conv(h, w3, 1), b3));
      return linear(tf.mean(h, [1, 2]) as tf.Tensor2D, wd, bd);
    },
    makeOptimizer: () => tf.train.momentum(0.01, 0.9),
    dispose: () => tf.dispose([...vars, x, y]),
  };
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
  return {
    name: 'resnet18-cifar',
    batch,
    vars,
    x,
    y,
    forward(inp) {
      let h = tf.relu(bn(conv(inp as tf.Tensor4D, stem, 1), stemBn));
      for (const b of blocks) {
        const o = tf.relu(bn(conv(h, b.w1, b.stride), b.n1));
        const o2 = bn(conv(o, b.w2, 1), b.n2);
        const sc = b.proj ? bn(conv(h, b.proj.w, b.stride), b.proj.n) : h;
        h = tf.relu(tf.add(o2, sc)) as tf.Tensor4D;
      }
      return linear(tf.mean(h, [1, 2]) as tf.Tensor2D, wd, bd);
    },
    makeOptimizer: () => tf.train.momentum(0.01, 0.9),
    dispose: () => tf.dispose([...vars, x, y]),
  };
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
  const layerNorm = (t: tf.Tensor2D, p: { g: tf.Variable; b: tf.Variable }): tf.Tensor2D => {
    const { mean, variance } = tf.moments(t, [1], true);
    return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-6))), p.g), p.b);
  };
  const gelu = (t: tf.Tensor): tf.Tensor => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
  return {
    name: 'vit-tiny-p4',
    batch,
    vars,
    x,
    y,
    forward(inp) {
      const b = inp.shape[0] as number;
      // Patch embedding as a matmul of flattened 4×4×3 patches (equivalent to a 4×4/4 conv; it keeps the stock
      // wasm backend able to train the ViT, whose only conv weight gradient would otherwise be missing).
      const patches = tf.reshape(tf.transpose(tf.reshape(inp, [b, 8, 4, 8, 4, 3]), [0, 1, 3, 2, 4, 5]), [b * 64, 48]);
      const emb = linear(patches as tf.Tensor2D, patch, patchB); // [B·64, D]
      const seq = tf.concat([tf.tile(cls, [b, 1, 1]), tf.reshape(emb, [b, 64, d])], 1);
      let h = tf.reshape(tf.add(seq, pos), [b * tokens, d]) as tf.Tensor2D;
      for (const blk of blocks) {
        const qkv = linear(layerNorm(h, blk.ln1), blk.qkv, blk.qkvB);
        const qkv5 = tf.transpose(tf.reshape(qkv, [b, tokens, 3, heads, dh]), [2, 0, 3, 1, 4]); // [3,B,H,T,dh]
        const [q, k, v] = tf.split(qkv5, 3, 0).map((t) => tf.reshape(t, [b * heads, tokens, dh]));
        const att = tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 1 / Math.sqrt(dh)));
        const ctx = tf.matMul(att, v as tf.Tensor3D);
        macs += 2 * b * heads * tokens * tokens * dh;
        const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [b, heads, tokens, dh]), [0, 2, 1, 3]), [b * tokens, d]);
        h = tf.add(h, linear(merged as tf.Tensor2D, blk.proj, blk.projB));
        const m = linear(gelu(linear(layerNorm(h, blk.ln2), blk.fc1, blk.fc1B)) as tf.Tensor2D, blk.fc2, blk.fc2B);
        h = tf.add(h, m);
      }
      const out = layerNorm(h, lnF);
      const clsOut = tf.reshape(tf.slice(tf.reshape(out, [b, tokens, d]), [0, 0, 0], [b, 1, d]), [b, d]);
      return linear(clsOut as tf.Tensor2D, head, headB);
    },
    makeOptimizer: () => tf.train.adam(1e-3),
    dispose: () => tf.dispose([...vars, x, y]),
  };
}

export const MODELS: Record<string, (batch?: number) => BenchModel> = {
  'small-cnn': smallCnn,
  'resnet18-cifar': resnet18,
  'vit-tiny-p4': vitTiny,
};
