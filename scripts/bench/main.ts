import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { initBackend } from '@promptkd/tfjs-env';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@promptkd/tfjs-env';
import { MODELS, countFlops, type BenchModel } from './models.js';
import { runMicroCpu, runMicroPatched, runMicroStock, type MicroResult } from './micro.js';
import { median, timeIt } from './timing.js';

interface Row {
  model: string;
  backend: string;
  variant: 'patched' | 'stock';
  batch: number;
  forwardGflop: number;
  forwardMs?: number;
  stepMs?: number;
  stepRunsMs?: number[];
  trainGflops?: number;
  leakedTensorsPerStep?: number;
  error?: string;
}

function torchAvailable(): boolean {
  try {
    execFileSync('python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function benchModel(m: BenchModel, runs: number, warmup: number): Omit<Row, 'backend' | 'variant'> {
  const flops = countFlops(() => tf.tidy(() => void m.forward(m.x)));
  const row: Omit<Row, 'backend' | 'variant'> = { model: m.name, batch: m.batch, forwardGflop: flops / 1e9 };
  const fwd = (): void => {
    const out = tf.tidy(() => m.forward(m.x));
    out.dataSync();
    out.dispose();
  };
  row.forwardMs = median(timeIt(fwd, Math.min(runs, 3), 1));
  const opt = m.makeOptimizer();
  const step = (): void => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(m.y, m.forward(m.x)) as tf.Scalar, true, m.vars);
    loss?.dataSync();
    loss?.dispose();
  };
  try {
    for (let i = 0; i < warmup; i++) step();
    const before = tf.memory().numTensors;
    const times = timeIt(step, runs, 0);
    // Without a warm-up the first step creates the optimizer's slots, which is not a leak: only count after one.
    if (warmup > 0) row.leakedTensorsPerStep = (tf.memory().numTensors - before) / runs;
    row.stepRunsMs = times.map((t) => Math.round(t));
    row.stepMs = median(times);
    row.trainGflops = (3 * flops) / row.stepMs / 1e6;
  } finally {
    opt.dispose();
  }
  return row;
}

const fmtMs = (ms?: number): string => (ms === undefined ? '–' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const fmtG = (g?: number): string => (g === undefined ? '–' : g.toFixed(g < 1 ? 3 : 1));

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: 'small-cnn,resnet18-cifar,vit-tiny-p4' },
      backends: { type: 'string', default: 'wasm,cpu' },
      variants: { type: 'string', default: 'patched,stock' },
      runs: { type: 'string', default: '3' },
      'cpu-runs': { type: 'string', default: '1' },
      warmup: { type: 'string', default: '1' },
      'cpu-all': { type: 'boolean', default: false },
      micro: { type: 'boolean', default: false },
      'micro-only': { type: 'boolean', default: false },
      'no-json': { type: 'boolean', default: false },
      threads: { type: 'string', default: '1' },
    },
  });
  const models = (values.models as string).split(',').filter(Boolean);
  const backends = (values.backends as string).split(',').filter(Boolean);
  const variants = (values.variants as string).split(',').filter(Boolean) as Row['variant'][];
  const runs = Number(values.runs);
  const cpuRuns = Number(values['cpu-runs']);
  const warmup = Number(values.warmup);
  for (const m of models) if (!MODELS[m]) throw new Error(`unknown model '${m}'; valid: ${Object.keys(MODELS).join(', ')}`);

  const threadsArg = values.threads as string;
  const choice = await initBackend({ backend: 'wasm', wasmThreads: threadsArg === 'auto' ? 'auto' : Number(threadsArg) });
  if (choice.threadsReason) console.log(`wasm threads: ${choice.threadsReason}`);
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    tfjs: tf.version.tfjs,
    wasmThreads: getThreadsCount(),
    patches: choice.patches,
  };
  console.log(`tfjs ${env.tfjs}, node ${env.node}, ${env.cpus} cpus (${env.cpuModel}); wasm threads: ${env.wasmThreads} (--threads N|auto; stock tfjs in Node: 1, tfjs#3830)`);
  const torch = torchAvailable();
  console.log(torch ? 'torch: available (timed after our runs, same thread count)' : 'torch: not available');

  let micro: MicroResult[] | undefined;
  if (values.micro || values['micro-only']) {
    console.log('\nmicro-benchmarks (kernel level) ...');
    micro = runMicroPatched(runs);
    unregisterWasmTrainingKernels();
    try {
      runMicroStock(micro, runs);
    } finally {
      registerWasmTrainingKernels();
    }
    await runMicroCpu(micro);
    const t = new Table({ head: ['case', 'patched', 'GFLOP/s', 'baseline', 'baseline time', 'GFLOP/s', 'speed-up'] });
    for (const r of micro) {
      t.push([
        r.name,
        fmtMs(r.patchedMs),
        fmtG(r.patchedGflops),
        r.baseline === 'cpu' ? `cpu kernel (B=${r.baselineBatch})` : r.baseline,
        fmtMs(r.baselineMs),
        fmtG(r.baselineGflops),
        r.speedup ? `${r.speedup.toFixed(1)}×` : '–',
      ]);
    }
    console.log(t.toString());
  }

  const rows: Row[] = [];
  let torchRows: Record<string, { step_ms: number }> | undefined;
  if (!values['micro-only']) {
    for (const backend of backends) {
      for (const name of models) {
        if (backend === 'cpu' && name !== 'small-cnn' && !values['cpu-all']) continue;
        for (const variant of backend === 'wasm' ? variants : (['stock'] as const)) {
          await tf.setBackend(backend);
          if (backend === 'wasm' && variant === 'stock') unregisterWasmTrainingKernels();
          const label = `${name} on ${backend}${backend === 'wasm' ? ` (${variant})` : ''}`;
          console.log(`\n${label} ...`);
          const m = (MODELS[name] as (b?: number) => BenchModel)();
          const base = { model: name, backend, variant, batch: m.batch, forwardGflop: 0 };
          try {
            const r = benchModel(m, backend === 'cpu' ? cpuRuns : runs, backend === 'cpu' ? 0 : warmup);
            rows.push({ ...base, ...r, backend, variant });
            console.log(`  step ${fmtMs(r.stepMs)} (runs ${r.stepRunsMs?.join(', ')} ms), ${fmtG(r.trainGflops)} GFLOP/s`);
          } catch (err) {
            const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
            rows.push({ ...base, forwardGflop: countFlopsSafe(m), error: msg });
            console.log(`  ✗ ${msg}`);
          } finally {
            m.dispose();
            if (backend === 'wasm' && variant === 'stock') registerWasmTrainingKernels();
          }
        }
      }
    }
    await tf.setBackend('wasm');
    const t = new Table({ head: ['model', 'batch', 'backend', 'kernels', 'fwd GFLOP', 'forward', 'train step', 'train GFLOP/s', 'leak/step'] });
    for (const r of rows) {
      t.push([
        r.model,
        r.batch,
        r.backend,
        r.backend === 'wasm' ? r.variant : 'stock',
        r.forwardGflop.toFixed(2),
        fmtMs(r.forwardMs),
        r.error ? `✗ ${r.error.slice(0, 60)}` : fmtMs(r.stepMs),
        fmtG(r.trainGflops),
        r.leakedTensorsPerStep ?? '–',
      ]);
    }
    console.log(`\ntraining step = forward + backward + optimizer; GFLOP/s counts 3 × forward FLOPs; median of ${runs} runs (cpu: ${cpuRuns}) after ${warmup} warm-up`);
    console.log(t.toString());
    if (!torch) {
      console.log('ours/PyTorch: torch: not available');
    } else {
      // Same models in PyTorch with the same thread count as our wasm backend (1 in Node unless threads are enabled).
      const wasmModels = [...new Set(rows.filter((r) => r.backend === 'wasm' && r.stepMs).map((r) => r.model))];
      try {
        const raw = execFileSync(
          'python3',
          [fileURLToPath(new URL('./torch_bench.py', import.meta.url)), '--threads', String(env.wasmThreads), '--runs', String(runs), '--models', wasmModels.join(',')],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const torchRes = JSON.parse(raw.trim().split('\n').pop() ?? '{}') as Record<string, { step_ms: number }>;
        torchRows = torchRes;
        const tt = new Table({ head: ['model', 'ours (wasm, patched)', `PyTorch (${env.wasmThreads} thread)`, 'ours/PyTorch'] });
        for (const m of wasmModels) {
          const ours = rows.find((r) => r.model === m && r.backend === 'wasm' && r.variant === 'patched')?.stepMs;
          const pt = torchRes[m]?.step_ms;
          tt.push([m, fmtMs(ours), fmtMs(pt), ours && pt ? `${(ours / pt).toFixed(2)}×` : '–']);
        }
        console.log(tt.toString());
      } catch (err) {
        console.log(`torch: available but scripts/bench/torch_bench.py failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }

  if (!values['no-json']) {
    mkdirSync('bench-results', { recursive: true });
    const file = `bench-results/bench-${env.date.slice(0, 19).replace(/:/g, '-')}.json`;
    writeFileSync(file, JSON.stringify({ env, torch: torchRows ?? (torch ? 'available' : 'not available'), rows, micro }, null, 2));
    console.log(`wrote ${file}`);
  }
}

function countFlopsSafe(m: BenchModel): number {
  try {
    return countFlops(() => tf.tidy(() => void m.forward(m.x))) / 1e9;
  } catch {
    return 0;
  }
}
