import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAddonPath, loadNativeAddon, type NativeAddon } from '@promptkd/native-kernels';
import { nativeKernelsActive, registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectKernelMatchesCpu, expectMatches, onCpu, rand, runKernel } from './kernel-helpers.js';

// npm ci builds the addon where a C compiler is found (`npx promptkd-build-native`); without one the file is skipped.
const built = existsSync(process.env.PROMPTKD_NATIVE_ADDON ?? defaultAddonPath());

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const CONVS: Array<{ n: number; h: number; w: number; ci: number; co: number; k: number; s: number; d?: number; pad: Pad }> = [
  { n: 2, h: 9, w: 7, ci: 3, co: 5, k: 3, s: 1, pad: 'same' },
  { n: 3, h: 8, w: 8, ci: 4, co: 3, k: 3, s: 2, pad: 'valid' },
  { n: 2, h: 8, w: 7, ci: 5, co: 6, k: 1, s: 1, pad: 'same' }, // pointwise: one GEMM
  { n: 2, h: 8, w: 7, ci: 5, co: 6, k: 1, s: 2, pad: 'same' },
  { n: 2, h: 12, w: 11, ci: 3, co: 4, k: 7, s: 2, pad: 'same' },
  { n: 2, h: 8, w: 9, ci: 3, co: 4, k: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { n: 1, h: 32, w: 32, ci: 3, co: 8, k: 4, s: 4, pad: 'valid' },
  { n: 5, h: 6, w: 6, ci: 4, co: 3, k: 3, s: 1, pad: 'same' },
  // channel counts at which oneDNN picks its blocked (16-channel) implementations
  { n: 2, h: 9, w: 10, ci: 32, co: 48, k: 3, s: 1, pad: 'same' },
  { n: 3, h: 10, w: 9, ci: 64, co: 32, k: 3, s: 2, pad: 'same' },
  { n: 2, h: 6, w: 6, ci: 48, co: 64, k: 1, s: 2, pad: 'valid' },
  // an image's first layer at 64 px: its input gradient goes to col2im, not oneDNN (onednn_conv.cc)
  { n: 2, h: 64, w: 64, ci: 3, co: 8, k: 3, s: 1, pad: 'same' },
];
/** 18.9 M multiply-adds, above the size below which oneDNN calls run on one thread (2^24): all threads run it. */
const LARGE_CONV = { n: 2, h: 16, w: 16, ci: 64, co: 64, k: 3, s: 1, pad: 'same' as Pad };
/**
 * ResNet's 1×1 stride-2 shortcut at 2^24 multiply-adds (the one-thread size): its last input row and column are never
 * read (negative right padding), which oneDNN's convolutions are not given, so it runs as im2col GEMMs on oneDNN's
 * SGEMM, on all threads.
 */
const LARGE_SHORTCUT = { n: 4, h: 32, w: 32, ci: 128, co: 128, k: 1, s: 2, pad: 'valid' as Pad };

/** Conv2D and both of its gradients on random operands of geometry `c`, each against the cpu backend. */
async function expectConvMatchesCpu(c: (typeof CONVS)[number], label: string): Promise<void> {
  const x = rand([c.n, c.h, c.w, c.ci]) as tf.Tensor4D;
  const w = rand([c.k, c.k, c.ci, c.co]) as tf.Tensor4D;
  const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
  await expectKernelMatchesCpu('Conv2D', { x, filter: w }, attrs, label);
  const y = tf.conv2d(x, w, c.s, c.pad);
  const dy = rand(y.shape);
  await expectKernelMatchesCpu('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }, label);
  await expectKernelMatchesCpu('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }, label);
  tf.dispose([x, w, y, dy]);
}

describe.skipIf(!built)('native kernels (oneDNN, OpenBLAS, built-in SGEMM on the wasm heap) match the cpu backend', () => {
  let addon: NativeAddon;
  beforeAll(() => {
    addon = loadNativeAddon();
    addon.setThreads(2);
    registerNativeKernels(addon);
  });
  afterAll(() => {
    addon.setConvChunk(0);
    unregisterNativeKernels();
    tf.disposeVariables();
  });

  it('registers over the wasm kernels and unregisters back', () => {
    expect(nativeKernelsActive()).toBe(true);
    const names = registerNativeKernels(addon);
    expect(names).toEqual(expect.arrayContaining(['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']));
    expect(registerNativeKernels(addon)).toEqual(names); // idempotent
  });

  it('BatchMatMul: 2-D, batched, broadcast batch dims, every transpose flag, on every engine', async () => {
    const shapes: Array<[number[], number[]]> = [
      [[7, 5], [5, 3]],
      [[4, 7, 5], [4, 5, 3]],
      [[4, 7, 5], [5, 3]],
      [[1, 65, 64], [6, 64, 65]],
      [[2, 3, 33, 40], [2, 3, 40, 17]],
      // the built-in SGEMM's narrow (≤ 16 columns) and wide micro-tiles, edge tiles and several depth blocks
      [[37, 300], [300, 9]],
      [[130, 70], [70, 50]],
      // 2^24 multiply-adds: oneDNN runs products this large on all threads, smaller ones on one
      [[256, 256], [256, 256]],
    ];
    for (const engine of addon.engines()) {
      addon.setEngine(engine);
      for (const [sa, sb] of shapes) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = rand(ta ? [...sa.slice(0, -2), sa.at(-1)!, sa.at(-2)!] : sa);
            const b = rand(tb ? [...sb.slice(0, -2), sb.at(-1)!, sb.at(-2)!] : sb);
            await expectKernelMatchesCpu('BatchMatMul', { a, b }, { transposeA: ta, transposeB: tb }, `${engine} ${sa}×${sb} ta=${ta} tb=${tb}`);
            tf.dispose([a, b]);
          }
        }
      }
    }
    addon.setEngine(engines()[0]!.engine);
  });

  it('the built-in SGEMM gives bit-identical products on 1 and 2 threads (threads split rows and columns, never the depth)', () => {
    const a = rand([300, 700]);
    const b = rand([700, 90]);
    addon.setEngine('builtin');
    const run = (threads: number): Float32Array => {
      addon.setThreads(threads);
      return tf.tidy(() => tf.matMul(a, b).dataSync() as Float32Array);
    };
    const one = run(1);
    const two = run(2);
    addon.setThreads(2);
    addon.setEngine(engines()[0]!.engine);
    expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    tf.dispose([a, b]);
  });

  it('the im2col convolutions and their gradients are bit-identical on 1, 2 and 3 threads (the filter gradient sums fixed groups of chunks)', () => {
    const x = rand([6, 12, 12, 5]) as tf.Tensor4D;
    const w = rand([3, 3, 5, 7]) as tf.Tensor4D;
    const dy = rand([6, 12, 12, 7]) as tf.Tensor4D;
    const engine = loadNativeAddon().engines().includes('openblas') ? 'openblas' : 'builtin';
    addon.setEngine(engine);
    const run = (threads: number, chunk: number): Buffer[] => {
      addon.setThreads(threads);
      addon.setConvChunk(chunk);
      return tf.tidy(() => [
        tf.conv2d(x, w, 1, 'same'),
        tf.conv2dTranspose(dy, w, x.shape, 1, 'same'), // Conv2DBackpropInput
        tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 1, 'same'), dy)))(w), // Conv2DBackpropFilter
      ].map((t) => Buffer.from((t.dataSync() as Float32Array).buffer)));
    };
    // 0 = default chunks; 200 floats = several chunks, so that more than one group and the per-thread path run
    for (const chunk of [0, 200]) {
      const one = run(1, chunk);
      for (const threads of [2, 3]) {
        const many = run(threads, chunk);
        many.forEach((b, i) => expect(b.equals(one[i]!), `${engine} chunk ${chunk}, ${threads} threads, output ${i}`).toBe(true));
      }
    }
    addon.setThreads(2);
    addon.setConvChunk(0);
    addon.setEngine(engines()[0]!.engine);
    tf.dispose([x, w, dy]);
  });

  it('BatchMatMul: broadcasting both batch dims (the cpu kernel cannot: checked by hand)', () => {
    const a = rand([2, 1, 7, 5]);
    const b = rand([3, 5, 3]);
    const out = tf.matMul(a, b);
    expect(out.shape).toEqual([2, 3, 7, 3]);
    for (const [i, j] of [[0, 0], [1, 2], [1, 1]] as const) {
      const want = tf.matMul(tf.reshape(tf.slice(a, [i, 0, 0, 0], [1, 1, 7, 5]), [7, 5]), tf.reshape(tf.slice(b, [j, 0, 0], [1, 5, 3]), [5, 3]));
      const got = tf.reshape(tf.slice(out, [i, j, 0, 0], [1, 1, 7, 3]), [7, 3]);
      expectMatches({ shape: got.shape, values: got.dataSync() as Float32Array }, { shape: want.shape, values: want.dataSync() as Float32Array }, `entry ${i},${j}`);
    }
  });

  it('BatchMatMul rejects mismatched inner dims with the tfjs message and delegates empty products', () => {
    const a = rand([3, 4]);
    const b = rand([5, 2]);
    expect(() => tf.matMul(a, b)).toThrow(/inner shapes \(4\) and \(5\)/);
    const e = tf.matMul(tf.zeros([0, 5]), rand([5, 3]));
    expect(e.shape).toEqual([0, 3]);
    tf.dispose([a, b, e]);
  });

  // Every engine of this build: oneDNN (when built with it), OpenBLAS (when built with it) and the built-in SGEMM,
  // the im2col ones with default and tiny chunks (50 floats: several im2col chunks even on these small shapes, so
  // the per-thread path runs too).
  const engines = (): Array<{ engine: string; chunk: number }> =>
    loadNativeAddon()
      .engines()
      .flatMap((engine) => (engine === 'onednn' ? [{ engine, chunk: 0 }] : [{ engine, chunk: 0 }, { engine, chunk: 50 }]));
  for (const slot of [0, 1, 2, 3, 4]) {
    it(`Conv2D and both gradients, engine/chunk ${slot} of this build`, async () => {
      const e = engines()[slot];
      if (!e) return; // a build without oneDNN or OpenBLAS has fewer
      addon.setEngine(e.engine);
      addon.setConvChunk(e.chunk);
      for (const c of CONVS) await expectConvMatchesCpu(c, `${e.engine}/${e.chunk} n${c.n} ${c.h}x${c.w} ${c.ci}->${c.co} k${c.k} s${c.s} ${JSON.stringify(c.pad)}`);
      addon.setConvChunk(0);
      addon.setEngine(engines()[0]!.engine);
    });
  }

  it('oneDNN: convolutions and both gradients above the one-thread size (on all threads), on its convolutions and its SGEMM', async () => {
    if (!addon.engines().includes('onednn')) return; // a build without oneDNN
    addon.setEngine('onednn');
    await expectConvMatchesCpu(LARGE_CONV, 'large conv');
    await expectConvMatchesCpu(LARGE_SHORTCUT, 'large 1×1 stride-2 shortcut');
    addon.setEngine(engines()[0]!.engine);
  });

  it("engine names the engine; engines lists this build's; setEngine rejects unknown names", () => {
    const engine = addon.engine();
    const names = addon.engines();
    expect(names.at(-1)).toBe('builtin');
    expect(engine).toMatch(/^(OpenBLAS|oneDNN \d+\.\d+\.\d+|built-in SGEMM \((AVX-512|AVX2|SIMD-128)\))$/);
    expect(() => addon.setEngine('winograd')).toThrow(/"onednn", "openblas" or "builtin"/);
    addon.setEngine('builtin');
    expect(addon.engine()).toMatch(/^built-in SGEMM/);
    if (names.includes('openblas')) {
      addon.setEngine('openblas');
      expect(addon.engine()).toBe('OpenBLAS');
    } else {
      expect(() => addon.setEngine('openblas')).toThrow(/no OpenBLAS/);
    }
    addon.setEngine(names[0]!);
    expect(addon.engine()).toBe(engine);
  });

  it('dilated Conv2D, on every engine', async () => {
    const x = rand([2, 11, 10, 3]);
    const w = rand([3, 3, 3, 4]);
    for (const engine of addon.engines()) {
      addon.setEngine(engine);
      await expectKernelMatchesCpu('Conv2D', { x, filter: w }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 2 }, `dilation 2 ${engine}`);
    }
    addon.setEngine(engines()[0]!.engine);
    tf.dispose([x, w]);
  });

  it('a training step through conv + matmul gives the cpu gradients and leaks nothing', async () => {
    const x = rand([4, 8, 8, 3]) as tf.Tensor4D;
    const w1 = tf.variable(rand([3, 3, 3, 6]));
    const w2 = tf.variable(rand([6, 5]));
    const loss = (): tf.Scalar =>
      tf.tidy(() => {
        const h = tf.relu(tf.conv2d(x, w1 as unknown as tf.Tensor4D, 2, 'same'));
        const logits = tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, w2);
        return tf.sum(tf.square(logits));
      });
    const grads = (): { shape: number[]; values: Float32Array }[] => {
      const { value, grads: g } = tf.variableGrads(loss, [w1, w2]);
      const out = [w1, w2].map((v) => ({ shape: g[v.name]!.shape, values: g[v.name]!.dataSync() as Float32Array }));
      tf.dispose([value, ...Object.values(g)]);
      return out;
    };
    grads();
    const before = tf.memory().numTensors;
    const ours = grads();
    expect(tf.memory().numTensors).toBe(before);
    const ref = await onCpu(grads);
    ours.forEach((g, i) => expectMatches(g, ref[i]!, `grad ${i}`));
    tf.dispose([x, w1, w2]);
  });

  it('the addon refuses offsets outside the heap instead of reading them', () => {
    const heap = new Float32Array(16);
    const off = (v: number): Int32Array => new Int32Array([v]);
    expect(() => addon.gemm(heap, 1, 4, 4, 4, false, false, off(0), off(8), off(12))).toThrow(/outside the wasm heap/);
    expect(() => addon.conv2d(heap, 1, 4, 4, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4, 0, 0, 100)).toThrow(/outside the wasm heap/);
    expect(() => addon.gemm(new Float64Array(4) as unknown as Float32Array, 1, 1, 1, 1, false, false, off(0), off(1), off(2))).toThrow(/Float32Array/);
  });

  it('runKernel helper sanity: native result differs from a wrong reference', () => {
    // Guards the comparison itself: a transposed operand must not match.
    const a = rand([3, 3]);
    const b = rand([3, 3]);
    const r = runKernel('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
    const wrong = runKernel('BatchMatMul', { a, b }, { transposeA: true, transposeB: false });
    expect(() => expectMatches(r, wrong, 'must differ')).toThrow();
    tf.dispose([a, b]);
  });

  it('MaxPoolGrad: overlapping and strided windows, padding, ties (first maximum wins), images in parallel', async () => {
    const cases: Array<[number[], number, number, 'same' | 'valid']> = [
      [[2, 7, 6, 3], 3, 1, 'same'],
      [[3, 8, 8, 4], 2, 2, 'valid'],
      [[2, 9, 9, 5], 3, 2, 'same'],
      [[8, 32, 32, 32], 2, 2, 'valid'], // ≥ 2^16 floats: the threaded path
    ];
    for (const [shape, k, s, pad] of cases) {
      // values on a coarse grid so that windows hold ties
      const x = tf.tidy(() => tf.div(tf.round(tf.mul(rand(shape), 2)), 2));
      const y = tf.maxPool(x as tf.Tensor4D, k, s, pad);
      const dy = rand(y.shape);
      await expectKernelMatchesCpu('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: k, strides: s, pad }, `${shape} k${k} s${s} ${pad}`);
      tf.dispose([x, y, dy]);
    }
  });
});
