import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerNativeKernels } from '@promptkd/tfjs-env';
import { onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt as built, withCountingNativeKernels } from './native-helpers.js';

/** The addon's element-wise functions, whose calls the tests count to tell native runs from fallbacks. */
const COUNTED = ['unary', 'binary', 'compare', 'reduce', 'batchNorm', 'copyStrided'] as const;
const BASE = ['gemm', 'conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'setThreads', 'getThreads', 'setConvChunk'] as const;
const calls: Record<string, number> = {};
const nativeCalls = (): number => COUNTED.reduce((s, k) => s + (calls[k] ?? 0), 0);

type Values = { shape: number[]; dtype: tf.DataType; values: Float32Array | Int32Array | Uint8Array };

function read(t: tf.Tensor): Values {
  return { shape: t.shape, dtype: t.dtype, values: t.dataSync() as Float32Array | Int32Array | Uint8Array };
}

/** Runs a kernel through the engine on the current backend; one or several outputs. */
function run(name: string, inputs: tf.NamedTensorMap | tf.Tensor[], attrs: object): Values[] {
  const out = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(out) ? out : [out];
  const vals = list.map(read);
  tf.dispose(list);
  return vals;
}

/** Same kernel on the cpu backend, on copies of the inputs made there. */
async function runOnCpu(name: string, inputs: tf.NamedTensorMap | tf.Tensor[], attrs: object): Promise<Values[]> {
  const data = Object.entries(inputs).map(([k, t]) => [k, t.dataSync().slice(), t.shape, t.dtype] as const);
  return onCpu(() => {
    const copies = data.map(([k, v, s, d]) => [k, tf.tensor(v as Float32Array, s, d)] as const);
    const ins = Array.isArray(inputs) ? copies.map(([, t]) => t) : Object.fromEntries(copies);
    try {
      return run(name, ins, attrs);
    } finally {
      tf.dispose(copies.map(([, t]) => t));
    }
  });
}

/**
 * ours ≈ ref: |a − e| ≤ atol' + rtol·|e|, with atol' = atol·max(1, largest finite |e|) unless `absolute`; non-finite
 * expected values must be matched exactly (NaN by NaN, ±∞ by the same infinity).
 */
function compare(ours: Values[], ref: Values[], label: string, rtol = 1e-5, atol = 1e-5, absolute = false): void {
  expect(ours.length, label).toBe(ref.length);
  ours.forEach((o, k) => {
    const r = ref[k]!;
    expect(o.shape, label).toEqual(r.shape);
    expect(o.dtype, label).toBe(r.dtype);
    expect(o.values.length, label).toBe(r.values.length);
    let maxAbs = 0;
    for (const v of r.values) if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
    const tol = absolute ? atol : atol * Math.max(maxAbs, 1);
    for (let i = 0; i < r.values.length; i++) {
      const a = o.values[i] as number;
      const e = r.values[i] as number;
      const ok = Number.isFinite(e) ? Math.abs(a - e) <= tol + rtol * Math.abs(e) : Number.isNaN(e) ? Number.isNaN(a) : a === e;
      if (!ok) throw new Error(`${label}: output ${k} element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${tol})`);
    }
  });
}

/**
 * Checks a kernel on wasm+native against the cpu backend; `native` says whether the addon must have run (true) or
 * the case must have gone to the fallback (false).
 */
async function check(
  name: string,
  inputs: tf.NamedTensorMap | tf.Tensor[],
  attrs: object,
  label: string,
  opts: { native?: boolean; rtol?: number; atol?: number; absolute?: boolean } = {},
): Promise<void> {
  const before = nativeCalls();
  const ours = run(name, inputs, attrs);
  const ran = nativeCalls() > before;
  expect(ran, `${name} ${label}: ${opts.native === false ? 'expected the fallback' : 'expected the native kernel'}`).toBe(opts.native ?? true);
  compare(ours, await runOnCpu(name, inputs, attrs), `${name} ${label}`, opts.rtol, opts.atol, opts.absolute);
}

const positive = (shape: number[]): tf.Tensor => tf.tidy(() => tf.add(tf.abs(rand(shape)), 0.05));

describe.skipIf(!built)('native element-wise, reduction and layout kernels match the cpu backend', () => {
  const addonOf = withCountingNativeKernels(COUNTED, calls, BASE);
  afterAll(() => {
    tf.disposeVariables();
  });
  const setParallelThreshold = (n: number): void => (addonOf().setParallelThreshold as (n: number) => void)(n);
  let tensorsAtStart = 0;
  beforeEach(() => {
    tensorsAtStart = tf.memory().numTensors;
  });

  it('registers the element-wise kernels', () => {
    const names = registerNativeKernels(addonOf());
    for (const k of ['Erf', 'Exp', 'Multiply', 'Add', 'RealDiv', 'Sum', 'Mean', 'Transpose', 'SplitV', 'Concat', 'Slice', 'Tile', 'Reverse', 'PadV2', 'FusedBatchNorm', 'Cast'])
      expect(names).toContain(k);
  });

  // Default thresholds (small shapes single-threaded), then every loop split over the threads.
  for (const [mode, threshold] of [['default thresholds', 0], ['every loop threaded', 1]] as const) {
    describe(mode, () => {
      beforeAll(() => setParallelThreshold(threshold));
      afterAll(() => setParallelThreshold(0));

    describe('unary', () => {
      const SIGNED = ['Neg', 'Exp', 'Erf', 'Square', 'Relu', 'Sigmoid', 'Tanh', 'Abs'];
      const POSITIVE = ['Sqrt', 'Rsqrt', 'Log', 'Reciprocal'];
      // [3, 5]: one work item; [700, 1000]: many, on both threads.
      for (const shape of [[3, 5], [700, 1000]]) {
        it(`every op on ${JSON.stringify(shape)}`, async () => {
          const x = tf.tidy(() => tf.mul(rand(shape), 3));
          const p = positive(shape);
          for (const op of SIGNED) await check(op, { x }, {}, JSON.stringify(shape));
          for (const op of POSITIVE) await check(op, { x: p }, {}, JSON.stringify(shape));
          await check('Step', { x }, { alpha: 0 }, 'alpha 0');
          await check('Step', { x }, { alpha: 0.3 }, 'alpha 0.3');
          await check('LeakyRelu', { x }, { alpha: 0.2 }, 'alpha 0.2');
          tf.dispose([x, p]);
          expect(tf.memory().numTensors).toBe(tensorsAtStart);
        });
      }

      it('extreme and special values', async () => {
        const v = [-200, -104, -100, -88, -30, -4.5, -4, -1e-3, -0, 0, 1e-30, 1e-3, 0.6, 0.7, 1, 3.9, 4, 30, 88, 88.7, 89, 200];
        const x = tf.tensor1d(v);
        for (const op of ['Exp', 'Erf', 'Tanh', 'Sigmoid', 'Neg', 'Square', 'Relu', 'Abs']) await check(op, { x }, {}, 'extremes', { atol: 1e-7, absolute: true });
        const p = tf.tensor1d([1e-44, 1e-38, 1e-30, 0.5, 0.70710677, 0.7071068, 1, 2, 1e10, 3e38]);
        for (const op of ['Log', 'Sqrt']) await check(op, { x: p }, {}, 'positive extremes', { atol: 1e-7, absolute: true });
        // Log of 0 and negatives, Sqrt of negatives, NaN everywhere: same non-finite values as the cpu backend.
        const s = tf.tensor1d([0, -1, NaN, Infinity, -Infinity]);
        for (const op of ['Log', 'Sqrt', 'Rsqrt', 'Reciprocal', 'Exp', 'Erf', 'Neg', 'Tanh', 'Sigmoid', 'Relu', 'Abs', 'Square']) {
          await check(op, { x: s }, {}, 'special values', { atol: 0, absolute: true });
        }
        await check('Step', { x: s }, { alpha: 0.5 }, 'special values', { atol: 0, absolute: true });
        await check('LeakyRelu', { x: s }, { alpha: 0.2 }, 'special values', { atol: 0, absolute: true });
        tf.dispose([x, p, s]);
      });

      it('non-float32 inputs fall back', async () => {
        const i = tf.tensor1d([-3, 0, 2, 7], 'int32');
        await check('Neg', { x: i }, {}, 'int32', { native: false });
        await check('Square', { x: i }, {}, 'int32', { native: false });
        await check('Abs', { x: i }, {}, 'int32', { native: false });
        i.dispose();
      });
    });

    describe('binary', () => {
      const OPS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference'];
      const PATTERNS: Array<[number[], number[], string]> = [
        [[4, 5, 6], [4, 5, 6], 'equal shapes'],
        [[4, 5, 6], [], 'scalar b'],
        [[], [4, 5, 6], 'scalar a'],
        [[4, 5, 6], [1, 1, 1], 'size-1 b'],
        [[7, 6], [6], 'trailing vector'],
        [[6], [7, 6], 'trailing vector first'],
        [[2, 3, 4, 6], [1, 1, 1, 6], 'channel vector [1,1,1,C]'],
        [[7, 1], [7, 6], 'row broadcast [N,1]'],
        [[7, 6], [7, 1], 'row broadcast second'],
        [[5, 4, 1], [5, 4, 9], '[A,B,1] op [A,B,C]'],
        [[5, 1], [1, 6], 'outer product [N,1] op [1,C]'],
        [[3, 4, 6], [4, 6], 'trailing matrix'],
        [[600, 1100], [600, 1100], 'large, equal'],
        [[600, 1100], [1100], 'large, trailing vector'],
        [[600, 1], [600, 1100], 'large, row broadcast'],
        [[3, 1, 5], [3, 4, 5], '[A,1,C] op [A,B,C]: once per leading entry'],
        [[4, 1, 1, 6], [4, 3, 5, 6], '[N,1,1,C] op [N,H,W,C] (the gradient of a per-image mean)'],
        [[4, 3, 5, 6], [4, 3, 1, 1], '[N,H,W,C] op [N,H,1,1]'],
      ];
      for (const op of OPS) {
        it(op, async () => {
          for (const [sa, sb, label] of PATTERNS) {
            const a = rand(sa);
            const b = op === 'RealDiv' ? tf.tidy(() => tf.add(tf.mul(tf.sign(rand(sb)), 0.5), rand(sb))) : rand(sb);
            await check(op, { a, b }, {}, label);
            tf.dispose([a, b]);
          }
          expect(tf.memory().numTensors).toBe(tensorsAtStart);
        });
      }

      it('comparisons (bool outputs): every op and broadcast, with ties, NaN and infinities', async () => {
        // values on a coarse grid so that ties occur; NaN and ±∞ planted at fixed places
        const grid = (shape: number[]): tf.Tensor =>
          tf.tidy(() => {
            const v = tf.round(tf.mul(rand(shape), 2)).dataSync() as Float32Array;
            [NaN, Infinity, -Infinity].forEach((x, k) => {
              if (v.length > 3 * k + 2) v[3 * k + 2] = x;
            });
            return tf.tensor(v, shape);
          });
        for (const op of ['Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual']) {
          for (const [sa, sb, label] of PATTERNS) {
            const a = grid(sa);
            const b = grid(sb);
            await check(op, { a, b }, {}, label);
            tf.dispose([a, b]);
          }
        }
        const i = tf.tensor1d([1, 2, 3], 'int32');
        await check('Equal', { a: i, b: i }, {}, 'int32', { native: false });
        i.dispose();
        expect(tf.memory().numTensors).toBe(tensorsAtStart);
      });

      it('broadcasts the addon does not cover, and int32, fall back with the right result', async () => {
        const a = rand([3, 1, 5]);
        const b = rand([3, 4, 5]);
        const d = rand([1, 4, 5]);
        await check('Multiply', { a: d, b: a }, {}, '[1,B,C] op [A,1,C]', { native: false });
        const c = rand([4, 1]);
        await check('Add', { a: b, b: c }, {}, '[A,B,C] op [B,1]', { native: false });
        const i = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32');
        const three = tf.scalar(3, 'int32');
        await check('Add', { a: i, b: i }, {}, 'int32', { native: false });
        await check('Multiply', { a: i, b: three }, {}, 'int32 scalar', { native: false });
        tf.dispose([a, b, c, d, i, three]);
        expect(tf.memory().numTensors).toBe(tensorsAtStart);
      });

      it('NaN and ±0 in Maximum / Minimum', async () => {
        const a = tf.tensor1d([NaN, 1, -0, 0, 2, -Infinity]);
        const b = tf.tensor1d([1, NaN, 0, -0, Infinity, 3]);
        for (const op of ['Maximum', 'Minimum']) {
          const [ours] = run(op, { a, b }, {});
          const [ref] = await runOnCpu(op, { a, b }, {});
          // Signed zeros may differ (Math.max(-0, 0) is 0); everything else must be the same.
          expect(Array.from(ours!.values).map((v) => (v === 0 ? 0 : v)), op).toEqual(Array.from(ref!.values).map((v) => (v === 0 ? 0 : v)));
        }
        tf.dispose([a, b]);
      });
    });

    describe('reductions', () => {
      const CASES: Array<[number[], number | number[], string]> = [
        [[7, 9], 1, 'trailing (rows)'],
        [[7, 9], -1, 'negative axis'],
        [[7, 9], 0, 'leading (columns)'],
        [[3, 4, 5], 1, 'middle block'],
        [[3, 4, 5, 6], [1, 2], 'middle block of two axes'],
        [[3, 4, 5], [0, 1, 2], 'everything'],
        [[4, 1, 5], [0, 2], 'axes around a size-1 axis'],
        [[8, 6, 6, 16], [0, 1, 2], 'batch-norm statistics'],
        [[30000, 3], 0, 'long thin columns (many blocks)'],
        [[3, 30000], 1, 'long rows (many blocks)'],
        [[2080, 300], 0, 'ViT bias gradient'],
        [[32, 16, 16, 64], [0, 1, 2], 'ResNet BN gradient'],
        [[5000], 0, 'a vector'],
        [[3, 9000], 0, 'wide columns (several column chunks)'],
        [[150, 9000], 0, 'wide columns in several row blocks'],
      ];
      for (const op of ['Sum', 'Mean', 'Max', 'Min']) {
        it(op, async () => {
          const axisAttr = op === 'Max' ? 'reductionIndices' : 'axis'; // as tfjs names them
          for (const [shape, axis, label] of CASES) {
            const x = rand(shape);
            const axes = tf.util.parseAxisParam(axis, shape);
            const r = axes.reduce((s, a) => s * (shape[a] as number), 1);
            // Float32 sums over r values differ from the cpu's by ~√r·ε·|x|; compare at that scale.
            const atol = op === 'Sum' ? 2e-6 * Math.sqrt(r) : 1e-6;
            for (const keepDims of [false, true]) {
              await check(op, { x }, { [axisAttr]: axis, keepDims }, `${label} ${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keepDims}`, { rtol: 1e-5, atol });
            }
            x.dispose();
          }
          expect(tf.memory().numTensors).toBe(tensorsAtStart);
        });
      }

      it('non-contiguous axes and int32 fall back', async () => {
        const x = rand([2, 3, 4]);
        await check('Sum', { x }, { axis: [0, 2], keepDims: false }, 'axes 0 and 2', { native: false });
        const i = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
        await check('Sum', { x: i }, { axis: [1], keepDims: false }, 'int32', { native: false });
        await check('Max', { x: i }, { reductionIndices: [0], keepDims: false }, 'int32', { native: false });
        tf.dispose([x, i]);
      });

      it('results do not depend on the thread count', () => {
        const x = rand([32, 16, 16, 64]);
        const y = rand([3, 200000]);
        const runs = [1, 2, 3].map((t) => {
          addonOf().setThreads(t);
          return [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2]), tf.sum(y, 1), tf.sum(y, 0), tf.erf(y)].map((r) => {
            const v = r.dataSync().slice();
            r.dispose();
            return v;
          });
        });
        addonOf().setThreads(2);
        for (const r of runs.slice(1)) r.forEach((v, i) => expect(Array.from(v), `result ${i}`).toEqual(Array.from(runs[0]![i]!)));
        tf.dispose([x, y]);
      });
    });

    describe('layout', () => {
      it('Transpose: every pattern, float32 and int32', async () => {
        const CASES: Array<[number[], number[]]> = [
          [[5, 7], [1, 0]],
          [[300, 500], [1, 0]], // tiled path, threads
          [[2, 3, 4], [2, 1, 0]],
          [[2, 3, 4], [0, 2, 1]],
          [[2, 3, 4], [1, 0, 2]],
          [[3, 4, 3, 5, 8], [1, 3, 0, 2, 4]], // ViT head split backward
          [[4, 5, 3, 3, 8], [2, 0, 3, 1, 4]], // ViT head split
          [[4, 2, 4, 2, 4, 3], [0, 1, 3, 2, 4, 5]], // ViT patches
          [[2, 3, 4, 5, 6, 7], [5, 4, 3, 2, 1, 0]],
          [[64, 9, 40], [2, 1, 0]],
        ];
        for (const [shape, perm] of CASES) {
          const x = rand(shape);
          await check('Transpose', { x }, { perm }, `${JSON.stringify(shape)} perm ${perm}`);
          const xi = tf.tidy(() => tf.cast(tf.mul(x, 100), 'int32'));
          await check('Transpose', { x: xi }, { perm }, `int32 ${JSON.stringify(shape)} perm ${perm}`);
          tf.dispose([x, xi]);
        }
        expect(tf.memory().numTensors).toBe(tensorsAtStart);
      });

      it('Transpose that only moves size-1 axes shares the buffer; bool falls back', async () => {
        const x = rand([1, 5, 1, 4]);
        const before = nativeCalls();
        const y = tf.transpose(x, [2, 1, 0, 3]);
        expect(nativeCalls()).toBe(before);
        expect(y.shape).toEqual([1, 5, 1, 4]);
        expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
        const b = tf.tensor2d([[true, false, true], [false, false, true]], [2, 3], 'bool');
        await check('Transpose', { x: b }, { perm: [1, 0] }, 'bool', { native: false });
        tf.dispose([x, y, b]);
      });

      it('Slice: contiguous and strided, ranks 1–5', async () => {
        const CASES: Array<[number[], number[], number[]]> = [
          [[10], [3], [5]],
          [[6, 7], [1, 0], [3, 7]],
          [[6, 7], [1, 2], [3, 4]],
          [[4, 5, 6], [0, 0, 0], [4, 1, 6]],
          [[4, 5, 6], [1, 2, 3], [2, -1, 2]],
          [[3, 4, 5, 6, 7], [1, 0, 2, 1, 3], [2, 4, 2, 3, 4]],
        ];
        for (const [shape, begin, size] of CASES) {
          const x = rand(shape);
          await check('Slice', { x }, { begin, size }, `${JSON.stringify(shape)} ${begin} ${size}`);
          tf.dispose(x);
        }
      });

      it('PadV2: every axis, zero and other constants, one-sided and empty pads, an empty input, int32', async () => {
        const CASES: Array<[number[], Array<[number, number]>, number]> = [
          [[7], [[2, 3]], 0],
          [[4, 5], [[0, 0], [1, 2]], 0],
          [[4, 5], [[3, 0], [0, 0]], -1.5],
          [[2, 36, 36, 3], [[0, 0], [14, 14], [14, 14], [0, 0]], 0],
          [[2, 3, 4, 5], [[1, 0], [0, 2], [3, 1], [2, 2]], 0.25],
          [[0, 3], [[1, 1], [2, 0]], 7],
        ];
        for (const [shape, paddings, constantValue] of CASES) {
          const x = rand(shape);
          // an empty input is a fill only: no call of the addon
          const native = shape.includes(0) ? { native: false } : {};
          await check('PadV2', { x }, { paddings, constantValue }, `${JSON.stringify(shape)} ${JSON.stringify(paddings)} ${constantValue}`, native);
          tf.dispose(x);
        }
        const xi = tf.tidy(() => tf.cast(tf.mul(rand([3, 4]), 100), 'int32'));
        await check('PadV2', { x: xi }, { paddings: [[1, 2], [0, 3]], constantValue: -4 }, 'int32');
        tf.dispose(xi);
        expect(tf.memory().numTensors).toBe(tensorsAtStart);
      });

      it('SplitV along every axis, sizes given or counted, int32', async () => {
        const x = rand([3, 4, 5, 6]);
        await check('SplitV', { x }, { numOrSizeSplits: 3, axis: 0 }, 'q/k/v along axis 0');
        await check('SplitV', { x }, { numOrSizeSplits: [1, 3], axis: 1 }, 'sizes along axis 1');
        await check('SplitV', { x }, { numOrSizeSplits: [2, -1, 1], axis: 2 }, 'with -1 along axis 2');
        await check('SplitV', { x }, { numOrSizeSplits: 2, axis: -1 }, 'last axis');
        await check('SplitV', { x }, { numOrSizeSplits: [0, 4], axis: 1 }, 'an empty piece');
        const xi = tf.tidy(() => tf.cast(tf.mul(x, 100), 'int32'));
        await check('SplitV', { x: xi }, { numOrSizeSplits: [1, 2], axis: 0 }, 'int32');
        tf.dispose([x, xi]);
        expect(tf.memory().numTensors).toBe(tensorsAtStart);
      });

      it('Concat along every axis, with an empty input, int32', async () => {
        const a = rand([2, 3, 4]);
        for (const axis of [0, 1, 2]) {
          const shape = [2, 3, 4];
          shape[axis] = 5;
          const b = rand(shape);
          await check('Concat', [a, b, a], { axis }, `axis ${axis}`);
          b.dispose();
        }
        const e = tf.zeros([2, 0, 4]);
        await check('Concat', [a, e, a], { axis: 1 }, 'with an empty input');
        await check('Concat', [e, a], { axis: 1 }, 'one non-empty input', { native: false });
        const ai = tf.tidy(() => tf.cast(tf.mul(a, 100), 'int32'));
        await check('Concat', [ai, ai], { axis: -1 }, 'int32');
        tf.dispose([a, e, ai]);
      });

      it('Tile', async () => {
        const CASES: Array<[number[], number[]]> = [
          [[1, 1, 1, 4], [2, 3, 3, 1]],
          [[2, 3], [2, 2]],
          [[3], [4]],
          [[2, 1, 3], [1, 5, 1]],
        ];
        for (const [shape, reps] of CASES) {
          const x = rand(shape);
          await check('Tile', { x }, { reps }, `${JSON.stringify(shape)} × ${reps}`);
          x.dispose();
        }
        const i = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32');
        await check('Tile', { x: i }, { reps: [2, 3] }, 'int32');
        i.dispose();
      });

      it('Reverse', async () => {
        // a horizontal flip (W of NHWC), the last axis, several axes (merged or not), every axis, a size-1 axis,
        // a large batch (threaded rows)
        const CASES: Array<[number[], number[]]> = [
          [[4, 5, 6, 3], [2]],
          [[3, 17], [1]],
          [[2, 3, 4], [0, 2]],
          [[2, 3, 4], [1, 2]],
          [[2, 3, 4], [0, 1, 2]],
          [[5, 1, 4], [1]],
          [[64, 32, 32, 3], [2]],
        ];
        for (const [shape, dims] of CASES) {
          const x = rand(shape);
          await check('Reverse', { x }, { dims }, `${JSON.stringify(shape)} along ${dims}`);
          x.dispose();
        }
        const i = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
        await check('Reverse', { x: i }, { dims: [-1] }, 'int32, negative axis');
        i.dispose();
      });
    });

    describe('FusedBatchNorm and Cast', () => {
      it('FusedBatchNorm: per-channel, scalar and missing parameters', async () => {
        const made: tf.Tensor[] = [];
        const keep = (t: tf.Tensor): tf.Tensor => (made.push(t), t);
        const c = (shape = [5]): tf.Tensor => keep(rand(shape));
        const v = (shape = [5]): tf.Tensor => keep(positive(shape));
        const x = c([2, 3, 4, 5]);
        const eps = { varianceEpsilon: 1e-5 };
        await check('FusedBatchNorm', { x, mean: c(), variance: v(), offset: c(), scale: c() }, eps, 'per channel');
        await check('FusedBatchNorm', { x, mean: c(), variance: v() }, { varianceEpsilon: 1e-3 }, 'no offset or scale');
        await check('FusedBatchNorm', { x, mean: c(), variance: v(), scale: c() }, eps, 'scale only');
        // (the cpu kernel wants all parameters of one rank)
        const scalars = { mean: keep(tf.scalar(0.3)), variance: keep(tf.scalar(2)), offset: keep(tf.scalar(-1)), scale: keep(tf.scalar(1.5)) };
        await check('FusedBatchNorm', { x, ...scalars }, eps, 'scalars');
        const s4 = [1, 1, 1, 5];
        await check('FusedBatchNorm', { x, mean: c(s4), variance: v(s4), offset: c(s4), scale: c(s4) }, eps, '[1,1,1,C] parameters');
        await check('FusedBatchNorm', { x, mean: c([4, 5]), variance: v([4, 5]) }, eps, '[W,C] parameters', { native: false });
        const big = c([32, 16, 16, 64]);
        await check('FusedBatchNorm', { x: big, mean: c([64]), variance: v([64]), offset: c([64]), scale: c([64]) }, eps, 'large');
        tf.dispose(made);
        expect(tf.memory().numTensors).toBe(tensorsAtStart);
      });

      it('Cast to the same dtype shares the buffer; real conversions fall back', () => {
        const x = rand([3, 4]);
        const before = tf.memory().numDataBuffers;
        const y = tf.cast(x, 'float32');
        expect(tf.memory().numDataBuffers).toBe(before);
        expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
        x.dispose();
        expect(y.dataSync().length).toBe(12); // still alive after x is gone
        const i = tf.cast(tf.tensor1d([1.7, -2.2, 3]), 'int32');
        expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
        const f = tf.cast(tf.tensor1d([true, false], 'bool'), 'float32');
        expect(Array.from(f.dataSync())).toEqual([1, 0]);
        tf.dispose([y, i, f]);
      });
    });
    });
  }

  describe('gradients through composites', () => {
    type Grads = Array<{ shape: number[]; values: Float32Array }>;
    async function expectGradsMatchCpu(label: string, make: () => { vars: tf.Variable[]; loss: () => tf.Scalar; dispose: () => void }): Promise<void> {
      const grads = (): Grads =>
        tf.tidy(() => {
          const m = make();
          const { value, grads: g } = tf.variableGrads(m.loss, m.vars);
          const out = m.vars.map((v) => ({ shape: g[v.name]!.shape, values: g[v.name]!.dataSync().slice() as Float32Array }));
          value.dispose();
          m.dispose();
          return out;
        });
      grads();
      const before = tf.memory().numTensors;
      const n0 = nativeCalls();
      const ours = grads();
      expect(nativeCalls(), `${label}: native kernels ran`).toBeGreaterThan(n0);
      expect(tf.memory().numTensors, `${label}: no tensor leaked`).toBe(before);
      const ref = await onCpu(grads);
      ours.forEach((g, i) => compare([{ ...g, dtype: 'float32' }], [{ ...ref[i]!, dtype: 'float32' }], `${label} grad ${i}`, 1e-4, 1e-5));
    }

    let seed = 7;
    const init = (shape: number[]): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed++);

    it('layer norm + GELU (erf) + attention-style split/transpose', async () => {
      const x0 = init([6, 10, 16]).dataSync().slice();
      const w0 = init([16, 48]).dataSync().slice();
      await expectGradsMatchCpu('transformer block', () => {
        const x = tf.tensor3d(x0, [6, 10, 16]);
        const g = tf.variable(tf.ones([16]), true, `g${seed++}`);
        const b = tf.variable(tf.zeros([16]), true, `b${seed++}`);
        const w = tf.variable(tf.tensor2d(w0, [16, 48]), true, `w${seed++}`);
        const loss = (): tf.Scalar => {
          const h = tf.reshape(x, [60, 16]);
          const { mean, variance } = tf.moments(h, [1], true);
          const ln = tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-6))), g), b);
          const qkv = tf.transpose(tf.reshape(tf.matMul(ln, w), [6, 10, 3, 2, 8]), [2, 0, 3, 1, 4]);
          const [q, k, v] = tf.split(qkv, 3, 0).map((t) => tf.reshape(t, [12, 10, 8]));
          const att = tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 0.35));
          const ctx = tf.matMul(att, v as tf.Tensor3D);
          const gelu = tf.mul(tf.mul(ctx, 0.5), tf.add(1, tf.erf(tf.mul(ctx, Math.SQRT1_2))));
          return tf.sum(tf.square(gelu));
        };
        return { vars: [g, b, w], loss, dispose: () => tf.dispose([x, g, b, w]) };
      });
    });

    it('conv + batch norm + relu + mean pooling', async () => {
      const x0 = init([4, 6, 6, 3]).dataSync().slice();
      const w0 = init([3, 3, 3, 8]).dataSync().slice();
      await expectGradsMatchCpu('conv-bn block', () => {
        const x = tf.tensor4d(x0, [4, 6, 6, 3]);
        const w = tf.variable(tf.tensor4d(w0, [3, 3, 3, 8]), true, `cw${seed++}`);
        const gamma = tf.variable(tf.fill([8], 1.2), true, `cg${seed++}`);
        const beta = tf.variable(tf.fill([8], 0.1), true, `cb${seed++}`);
        const loss = (): tf.Scalar => {
          const y = tf.conv2d(x, w as unknown as tf.Tensor4D, 1, 'same');
          const { mean, variance } = tf.moments(y, [0, 1, 2]);
          const n = tf.relu(tf.batchNorm(y, mean, variance, beta, gamma, 1e-5));
          const pooled = tf.mean(n, [1, 2]);
          return tf.sum(tf.mul(pooled, tf.tile(tf.reshape(tf.range(0, 8, 1, 'float32'), [1, 8]), [4, 1])));
        };
        return { vars: [w, gamma, beta], loss, dispose: () => tf.dispose([x, w, gamma, beta]) };
      });
    });
  });

  describe('the addon checks its arguments', () => {
    const heap = new Float32Array(64);
    const fn = (name: string) => addonOf()[name] as (...a: unknown[]) => void;
    it('refuses tensors outside the heap', () => {
      expect(() => fn('unary')(heap, 0, 16, 56, 0, 0)).toThrow(/outside the wasm heap/);
      expect(() => fn('unary')(heap, 0, 4, -1, 0, 0)).toThrow(/outside the wasm heap/);
      expect(() => fn('binary')(heap, 0, 2, 8, 0, 0, 60, 2, 16)).toThrow(/outside the wasm heap/);
      expect(() => fn('reduce')(heap, 0, 8, 8, 2, 0, 0)).toThrow(/outside the wasm heap/);
      expect(() => fn('batchNorm')(heap, 4, 8, 0, 32, 1e-5, 60, 1, 0, 1, -1, 0, -1, 0)).toThrow(/outside the wasm heap/);
      const i32 = (...v: number[]): Int32Array => Int32Array.from(v);
      expect(() => fn('copyStrided')(heap, i32(8, 8), i32(8, 1), i32(8, 1), 8, 0)).toThrow(/outside the wasm heap/);
    });
    it('refuses bad ops, modes, strides and heaps', () => {
      const i32 = (...v: number[]): Int32Array => Int32Array.from(v);
      expect(() => fn('unary')(heap, 99, 4, 0, 8, 0)).toThrow(/unknown unary op/);
      expect(() => fn('binary')(heap, 0, 1, 4, 0, 7, 8, 0, 16)).toThrow(/broadcast mode/);
      expect(() => fn('reduce')(heap, 9, 1, 4, 1, 0, 8)).toThrow(/unknown reduction/);
      expect(() => fn('reduce')(heap, 0, 1, 0, 1, 0, 8)).toThrow(/non-empty/);
      expect(() => fn('copyStrided')(heap, i32(2, 2), i32(2, 1), i32(-2, 1), 8, 8)).toThrow(/negative dimension or destination stride/);
      // a negative source stride reads backwards from srcOff (Reverse), so it must not reach before the heap
      expect(() => fn('copyStrided')(heap, i32(2, 2), i32(-2, 1), i32(2, 1), 1, 8)).toThrow(/outside the wasm heap/);
      expect(() => fn('copyStrided')(heap, i32(2, 2), i32(-2, 1), i32(2, 1), 2, 8)).not.toThrow();
      expect(() => fn('copyStrided')(heap, i32(2, 2), i32(2), i32(2, 1), 8, 0)).toThrow(/rank/);
      expect(() => fn('unary')(new Float64Array(8), 0, 4, 0, 4, 0)).toThrow(/Float32Array/);
      expect(() => fn('unary')(heap, 0, 4)).toThrow(/takes 6 arguments/);
      expect(() => fn('copyStrided')(heap, [2, 2], i32(2, 1), i32(2, 1), 0, 8)).toThrow(/Int32Array/);
    });
  });
});
