import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { expectClose } from '@promptkd/testing';
import { enableWasmThreads } from '../src/threads/index.js';

// The test process already runs the single-threaded wasm backend (tooling/vitest.setup.ts), and the thread count
// can only be chosen before wasm's first initialisation, so the threaded runs happen in child processes. Each
// child reads the inputs from stdin, enables threads, computes the same ops and prints the results as JSON; it
// must then exit by itself (pthread workers must not keep Node alive).

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const THREADS_ENTRY = pathToFileURL(fileURLToPath(new URL('../src/threads/index.ts', import.meta.url))).href;
const CHILD_TIMEOUT_MS = 240_000;

interface Inputs {
  a: number[]; // [64, 96]
  b: number[]; // [96, 80]
  x: number[]; // [4, 12, 12, 16]
  w: number[]; // [3, 3, 16, 24]
  dy: number[]; // [4, 12, 12, 24]
}

interface Outputs {
  matmul: number[];
  conv: number[];
  dW: number[];
  dx: number[];
  /** One SGD step of conv → ReLU → mean pool → dense → softmax cross-entropy: the loss, then both updated weights. */
  step: number[];
}

interface ChildResult {
  threads: number;
  reason?: string;
  wasmThreads: number;
  backend: string;
  outputs: Outputs;
  /** Last 3 values of 2·range(2^24) (exact in float32), computed after the memory growth. */
  tail: number[];
  /** The same computation again, after the memory growth. */
  again: Outputs;
}

const SHAPES = { a: [64, 96], b: [96, 80], x: [4, 12, 12, 16], w: [3, 3, 16, 24], dy: [4, 12, 12, 24] } as const;

// The computation, as source shared by this process and the children (so both run exactly the same ops).
const COMPUTE_SRC = `(tf, inp, S) => tf.tidy(() => {
  const a = tf.tensor(inp.a, S.a), b = tf.tensor(inp.b, S.b);
  const x = tf.tensor(inp.x, S.x), w = tf.tensor(inp.w, S.w), dy = tf.tensor(inp.dy, S.dy);
  const conv = (xx, ww) => tf.conv2d(xx, ww, 1, 'same');
  const g = tf.grads((xx, ww) => tf.sum(tf.mul(conv(xx, ww), dy)))([x, w]);
  const wd = tf.reshape(tf.slice(a, [0, 0], [3, 80]), [24, 10]);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
  const { value, grads } = tf.valueAndGrads((ww, dd) =>
    tf.losses.softmaxCrossEntropy(labels, tf.matMul(tf.mean(tf.relu(conv(x, ww)), [1, 2]), dd)))([w, wd]);
  const step = [value, tf.sub(w, tf.mul(grads[0], 0.1)), tf.sub(wd, tf.mul(grads[1], 0.1))].flatMap((t) => Array.from(t.dataSync()));
  return {
    step,
    matmul: Array.from(tf.matMul(a, b).dataSync()),
    conv: Array.from(conv(x, w).dataSync()),
    dx: Array.from(g[0].dataSync()),
    dW: Array.from(g[1].dataSync()),
  };
})`;

const compute = new Function(`return ${COMPUTE_SRC}`)() as (t: typeof tf, inp: Inputs, s: typeof SHAPES) => Outputs;

function childSource(threads: number, options: Record<string, unknown>): string {
  return `
import * as tf from '@tensorflow/tfjs';
import { text } from 'node:stream/consumers';
const wasm = await import('@tensorflow/tfjs-backend-wasm');
const { enableWasmThreads } = await import(${JSON.stringify(THREADS_ENTRY)});
const { registerWasmTrainingKernels } = await import('@promptkd/tfjs-env');
const inp = JSON.parse(await text(process.stdin));
const res = await enableWasmThreads(${threads}, ${JSON.stringify(options)});
await tf.setBackend('wasm');
registerWasmTrainingKernels();
const compute = ${COMPUTE_SRC};
const outputs = compute(tf, inp, ${JSON.stringify(SHAPES)});
// Grow the shared wasm memory well past its initial 16 MiB, then compute again: stale heap views would show here.
const n = 1 << 24;
const big = tf.range(0, n, 1, 'float32');
const tail = Array.from(tf.tidy(() => tf.mul(big, 2).slice([n - 3], [3])).dataSync());
big.dispose();
const again = compute(tf, inp, ${JSON.stringify(SHAPES)});
process.stdout.write(JSON.stringify({ ...res, wasmThreads: wasm.getThreadsCount(), backend: tf.getBackend(), outputs, tail, again }) + '\\n');
`;
}

function runChild(threads: number, inputs: Inputs, options: Record<string, unknown> = {}): Promise<{ code: number | null; signal: string | null; result?: ChildResult; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--conditions=@promptkd/source', '--import', 'tsx', '--input-type=module', '-e', childSource(threads, options)],
      { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      let result: ChildResult | undefined;
      try {
        result = line ? (JSON.parse(line) as ChildResult) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ code, signal, result, stderr: err.slice(-4000) });
    });
    p.stdin.end(JSON.stringify(inputs));
  });
}

function uniform(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

describe('enableWasmThreads', () => {
  const inputs: Inputs = {
    a: uniform(size(SHAPES.a), 1),
    b: uniform(size(SHAPES.b), 2),
    x: uniform(size(SHAPES.x), 3),
    w: uniform(size(SHAPES.w), 4),
    dy: uniform(size(SHAPES.dy), 5),
  };
  const expectedThreads = Math.min(2, availableParallelism());
  let reference: Outputs;
  let threaded: Awaited<ReturnType<typeof runChild>>;
  let broken: Awaited<ReturnType<typeof runChild>>;

  beforeAll(async () => {
    expect(tf.getBackend()).toBe('wasm');
    reference = compute(tf, inputs, SHAPES);
    [threaded, broken] = await Promise.all([
      runChild(2, inputs),
      runChild(2, inputs, { mainScriptPath: '/nonexistent/promptkd/tfjs-backend-wasm-threaded-simd.js' }),
    ]);
  }, CHILD_TIMEOUT_MS + 30_000);

  it('runs matmul, conv2d and both conv gradients on 2 threads with the single-threaded results (also after memory growth), then exits', () => {
    expect(threaded.signal, threaded.stderr).toBeNull();
    expect(threaded.code, threaded.stderr).toBe(0);
    const r = threaded.result;
    expect(r, threaded.stderr).toBeDefined();
    if (!r) return;
    expect(r.backend).toBe('wasm');
    expect(r.threads).toBe(expectedThreads);
    expect(r.wasmThreads).toBe(expectedThreads);
    if (expectedThreads === 2) expect(r.reason).toBeUndefined();
    for (const key of ['matmul', 'conv', 'dW', 'dx'] as const) {
      expect(r.outputs[key].length).toBe(reference[key].length);
      expectClose(r.outputs[key], reference[key], { rtol: 1e-5, atol: 1e-5, label: key });
    }
    const n = 2 ** 24;
    expect(r.tail).toEqual([2 * (n - 3), 2 * (n - 2), 2 * (n - 1)]);
    for (const key of ['matmul', 'conv', 'dW', 'dx'] as const) {
      expectClose(r.again[key], reference[key], { rtol: 1e-5, atol: 1e-5, label: `${key} after memory growth` });
    }
    // Not trivially equal: the reference really is a non-zero computation.
    expect(reference.dW.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it('gives a training step bit-identical to the single-threaded one (XNNPACK splits no reduction across threads here)', () => {
    // The single-threaded step comes from the child that fell back to one thread: the same wasm kernels as the
    // threaded child, whatever kernel set this process runs (the PROMPTKD_NATIVE pass uses the native kernels here).
    const r = threaded.result;
    const single = broken.result;
    expect(r, threaded.stderr).toBeDefined();
    expect(single, broken.stderr).toBeDefined();
    if (!r || !single) return;
    expect(single.wasmThreads).toBe(1);
    expect(r.outputs.step.length).toBe(single.outputs.step.length);
    const bits = (v: number[]): Uint32Array => new Uint32Array(Float32Array.from(v).buffer);
    expect(bits(r.outputs.step)).toEqual(bits(single.outputs.step));
    expect(bits(r.again.step)).toEqual(bits(single.outputs.step));
    expectClose(single.outputs.step, reference.step, { rtol: 1e-5, atol: 1e-5, label: 'step vs this process' });
    expect(single.outputs.step[0]).toBeGreaterThan(0); // a real loss
  });

  it('falls back to one working thread, with a reason, when the threaded build cannot start', () => {
    expect(broken.signal, broken.stderr).toBeNull();
    expect(broken.code, broken.stderr).toBe(0);
    const r = broken.result;
    expect(r, broken.stderr).toBeDefined();
    if (!r) return;
    expect(r.backend).toBe('wasm');
    expect(r.threads).toBe(1);
    expect(r.wasmThreads).toBe(1);
    if (expectedThreads === 2) expect(r.reason).toMatch(/failed to start.*falling back to 1 thread/);
    expectClose(r.outputs.matmul, reference.matmul, { rtol: 1e-5, atol: 1e-5, label: 'matmul after fallback' });
    expectClose(r.outputs.dW, reference.dW, { rtol: 1e-5, atol: 1e-5, label: 'dW after fallback' });
  });

  it('leaves an already initialised wasm backend alone and says why', async () => {
    const res = await enableWasmThreads(2);
    expect(res.threads).toBe(1);
    expect(res.reason).toMatch(/already initialised with 1 thread/);
    expect(await enableWasmThreads(1)).toEqual({ threads: 1 });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects a thread count that is not a positive integer', async () => {
    await expect(enableWasmThreads(0)).rejects.toBeInstanceOf(ConfigError);
    await expect(enableWasmThreads(1.5)).rejects.toThrow(/integer >= 1/);
  });
});
