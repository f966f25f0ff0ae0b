/**
 * Measures what multithreaded wasm buys on this machine: single- vs multi-threaded TensorFlow.js wasm on a large
 * matmul and a conv2d (plus the conv2d weight/input gradients), in child processes of one run, interleaved
 * (1, n, n, 1, 1, n, ...) so that load from other processes hits both sides alike.
 *
 *   node --conditions=@promptkd/source --import tsx scripts/threads-probe.ts [--threads 2] [--rounds 3] [--reps 5] [--json out.json]
 *
 * Each child prints one JSON line (`--child --threads k`): `--reps` timed runs after 2 warm-ups, the
 * process CPU time per op, and a bitwise hash of every result (so the parent can tell whether the threaded
 * results are identical). The child must exit by itself: a hang there would mean pthreads keep Node alive.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from '@promptkd/tfjs-env';
// Until the lead re-exports it from @promptkd/tfjs-env's entry:
import { enableWasmThreads } from '@promptkd/tfjs-env';

interface OpResult {
  readonly name: string;
  readonly gflop: number;
  readonly ms: number[];
  readonly medianMs: number;
  readonly cpuMsPerOp: number;
  readonly hash: string;
}

interface ChildReport {
  readonly requested: number;
  readonly threads: number;
  readonly reason?: string;
  readonly initMs: number;
  readonly ops: OpResult[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function fnv1a(data: Float32Array): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

async function child(): Promise<void> {
  const requested = Number(arg('threads', '1'));
  const reps = Number(arg('reps', '5'));
  await import('@tensorflow/tfjs-backend-wasm');
  const t0 = performance.now();
  const res = await enableWasmThreads(requested);
  await tf.setBackend('wasm');
  await tf.ready();
  const initMs = performance.now() - t0;
  registerWasmTrainingKernels();

  const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
  const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
  const x = tf.randomNormal([32, 32, 32, 64], 0, 1, 'float32', 3);
  const w = tf.randomNormal([3, 3, 64, 64], 0, 0.1, 'float32', 4);
  const dy = tf.randomNormal([32, 32, 32, 64], 0, 1, 'float32', 5);
  const convFlop = 2 * 32 * 32 * 32 * 64 * 64 * 9;
  const cases: { name: string; gflop: number; run: () => tf.Tensor }[] = [
    { name: 'matmul 1024x1024x1024', gflop: (2 * 1024 ** 3) / 1e9, run: () => tf.matMul(a, b) },
    { name: 'conv2d 32x32x32x64->64 3x3', gflop: convFlop / 1e9, run: () => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same') },
    {
      name: 'conv2d dW (backprop filter)',
      gflop: convFlop / 1e9,
      run: () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
          strides: [1, 1],
          pad: 'same',
          dataFormat: 'NHWC',
          dimRoundingMode: undefined,
          filterShape: [3, 3, 64, 64],
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
    },
    {
      name: 'conv2d dx (backprop input)',
      gflop: convFlop / 1e9,
      run: () => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, [32, 32, 32, 64], 1, 'same'),
    },
  ];
  const ops: OpResult[] = [];
  for (const c of cases) {
    for (let i = 0; i < 2; i++) tf.tidy(() => c.run().dataSync());
    const ms: number[] = [];
    const cpu0 = process.cpuUsage();
    let hash = '';
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      const out = c.run();
      const data = out.dataSync() as Float32Array;
      ms.push(performance.now() - t);
      if (i === 0) hash = fnv1a(data);
      out.dispose();
    }
    const cpu = process.cpuUsage(cpu0);
    ops.push({ name: c.name, gflop: c.gflop, ms, medianMs: median(ms), cpuMsPerOp: (cpu.user + cpu.system) / 1000 / reps, hash });
  }
  const report: ChildReport = { requested, threads: res.threads, reason: res.reason, initMs, ops };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function runChild(threads: number, reps: number): Promise<ChildReport> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, script, '--child', '--threads', String(threads), '--reps', String(reps)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 600_000);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`child (threads=${threads}) exited with ${code ?? signal}: ${out}`));
      else resolve(JSON.parse(line) as ChildReport);
    });
  });
}

async function parent(): Promise<void> {
  const n = Number(arg('threads', '2'));
  const rounds = Number(arg('rounds', '3'));
  const reps = Number(arg('reps', '5'));
  const jsonOut = arg('json', '');
  const load0 = loadavg()[0] ?? 0;
  const runs: ChildReport[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [1, n] : [n, 1];
    for (const t of order) {
      const rep = await runChild(t, reps);
      runs.push(rep);
      process.stderr.write(
        `round ${r + 1} threads=${rep.threads}${rep.reason ? ` (${rep.reason})` : ''} init ${rep.initMs.toFixed(0)} ms: ` +
          rep.ops.map((o) => `${o.medianMs.toFixed(0)} ms (cpu ${o.cpuMsPerOp.toFixed(0)})`).join(', ') +
          '\n',
      );
    }
  }
  const single = runs.filter((r) => r.requested === 1);
  const multi = runs.filter((r) => r.requested === n);
  const threadsUsed = multi[0]?.threads ?? 1;
  const rows = (single[0]?.ops ?? []).map((op, i) => {
    const s = median(single.map((r) => r.ops[i]?.medianMs ?? NaN));
    const m = median(multi.map((r) => r.ops[i]?.medianMs ?? NaN));
    const sBest = Math.min(...single.flatMap((r) => r.ops[i]?.ms ?? []));
    const mBest = Math.min(...multi.flatMap((r) => r.ops[i]?.ms ?? []));
    const same = multi.every((r) => r.ops[i]?.hash === op.hash) && single.every((r) => r.ops[i]?.hash === op.hash);
    return {
      op: op.name,
      gflop: op.gflop,
      singleMs: s,
      multiMs: m,
      singleGflops: op.gflop / (s / 1000),
      multiGflops: op.gflop / (m / 1000),
      speedup: s / m,
      singleBestMs: sBest,
      multiBestMs: mBest,
      bestSpeedup: sBest / mBest,
      singleCpuMs: median(single.map((r) => r.ops[i]?.cpuMsPerOp ?? NaN)),
      multiCpuMs: median(multi.map((r) => r.ops[i]?.cpuMsPerOp ?? NaN)),
      bitwiseEqual: same,
    };
  });
  const load1 = loadavg()[0] ?? 0;
  console.log(`threads: requested ${n}, used ${threadsUsed}${multi[0]?.reason ? ` (${multi[0].reason})` : ''}; ${rounds} rounds x ${reps} reps (medians after 2 warm-ups)`);
  console.log(`init: single ${median(single.map((r) => r.initMs)).toFixed(0)} ms, multi ${median(multi.map((r) => r.initMs)).toFixed(0)} ms; load average ${load0.toFixed(1)} -> ${load1.toFixed(1)} on ${n} cores`);
  console.log('medians of the per-child medians; "best" = fastest single rep over all children (least disturbed by other load)');
  console.table(
    rows.map((r) => ({
      op: r.op,
      'single ms': r.singleMs.toFixed(1),
      'multi ms': r.multiMs.toFixed(1),
      'single GFLOP/s': r.singleGflops.toFixed(2),
      'multi GFLOP/s': r.multiGflops.toFixed(2),
      speedup: r.speedup.toFixed(2),
      'best ms 1|n': `${r.singleBestMs.toFixed(0)}|${r.multiBestMs.toFixed(0)}`,
      'best speedup': r.bestSpeedup.toFixed(2),
      'cpu ms/op 1|n': `${r.singleCpuMs.toFixed(0)}|${r.multiCpuMs.toFixed(0)}`,
      'bitwise equal': r.bitwiseEqual,
    })),
  );
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ threads: threadsUsed, load: [load0, load1], rows, runs }, null, 2));
}

if (process.argv.includes('--child')) await child();
else await parent();
