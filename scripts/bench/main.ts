/**
 * `npm run bench`: training-step benchmarks of promptkd's TensorFlow.js setup against PyTorch, in one table.
 * See scripts/bench/README.md for the workloads, the FLOP counting and the flags.
 */
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { ConfigError } from '@promptkd/core';
import {
  initBackend,
  registerNativeKernels,
  registerWasmTrainingKernels,
  unregisterNativeKernels,
  unregisterWasmTrainingKernels,
  type NativeKernelsAddon,
} from '@promptkd/tfjs-env';
import { DEFAULT_MODELS, MODELS, type BenchModel } from './models.js';
import { runMicroCpu, runMicroNative, runMicroPatched, runMicroStock, type MicroResult } from './micro.js';
import { median, timeIt, timePaired } from './timing.js';
import { TorchServer } from './torch-server.js';
import { WasmAllocations, peakRssMiB, resetPeakRss, wasmHeapMiB } from './memory.js';
import { keepFreedBlocks, mallocSetting } from './malloc-env.js';
import { torchEnv, torchOmpWaitPolicy } from './torch-env.js';

/** The wasm backend's allocations (set up on the first wasm row). */
let heapMeter: WasmAllocations | undefined;

/**
 * Kernel sets of the wasm backend: the native addon on top of promptkd's training kernels (with its default engine,
 * oneDNN when built with it, or forced to its OpenBLAS GEMMs and im2col convolutions), those kernels alone, stock tfjs.
 */
type Variant = 'native' | 'openblas' | 'builtin' | 'patched' | 'stock';
const VARIANTS: readonly Variant[] = ['native', 'openblas', 'builtin', 'patched', 'stock'];
const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const;
/** Package that provides each tfjs backend (only wasm is initialised by initBackend here). */
const BACKEND_PACKAGE: Record<string, string> = { cpu: '@tensorflow/tfjs-backend-cpu', tensorflow: '@tensorflow/tfjs-node' };

/** One line of the final table (and of the JSON). */
interface Row {
  model: string;
  batch: number;
  backend: string;
  /** wasm: native | patched | stock; '' elsewhere. */
  variant: string;
  threads: number;
  paramsTrainable?: number;
  paramsFrozen?: number;
  fwdGflop?: number;
  stepGflop?: number;
  flopsRule?: string;
  stepMs?: number;
  stepRunsMs?: number[];
  /** Steps per timed run (MIN_RUN_MS): each of `stepRunsMs` is a run's time per step. */
  stepsPerRun?: number;
  /** Warm-up steps before the timed runs (`--warmup`, and at least MIN_WARMUP_MS of them). */
  warmupSteps?: number;
  forwardMs?: number;
  gflops?: number;
  /** GFLOP/s of the large matmul on the same backend/variant, and this row's share of it. */
  peakGflops?: number;
  pctPeak?: number;
  torchMs?: number;
  oursOverTorch?: number;
  leakedTensorsPerStep?: number;
  /** tf kernels one step runs. */
  kernelsPerStep?: number;
  /** High-water mark of the tensor data the wasm backend holds on its heap during the timed steps, MiB. */
  tensorPeakMiB?: number;
  /** Size of the wasm heap after the workload (it only grows: the heap's high-water extent in this process), MiB. */
  wasmHeapMiB?: number;
  /** Process RSS high-water mark from building the workload to its last step, MiB. */
  rssPeakMiB?: number;
  loss?: number;
  error?: string;
  /** Why this backend/variant (or PyTorch) did not run at all. */
  unavailable?: string;
}

interface TorchWorkload {
  batch: number;
  step_ms: number;
  step_runs_ms: number[];
  /** Steps per timed run (as ours). */
  steps_per_run?: number;
  rss_peak_mib?: number;
  params_trainable: number;
  params_frozen: number;
  fwd_gflop: number;
  step_gflop: number;
  flops_rule: string;
  loss: number;
  error?: string;
}
interface TorchResult {
  torch: string;
  threads: number;
  peak?: { n: number; ms: number; runs_ms: number[]; gflops: number };
  models: Record<string, TorchWorkload | { error: string }>;
}

const firstLine = (err: unknown): string => ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').trim();

/** `{ version }` when `python3 -c 'import torch'` works, else `{ reason }`. */
function probeTorch(): { version?: string; reason?: string } {
  const res = spawnSync('python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (res.error) return { reason: `python3: ${firstLine(res.error)}` };
  if (res.status !== 0) {
    const lines = (res.stderr ?? '').trim().split('\n');
    return { reason: lines[lines.length - 1] || `python3 exited with ${res.status}` };
  }
  return { version: res.stdout.trim() };
}

/** The native GEMM/convolution engine (`oneDNN x.y.z` or `OpenBLAS`); older builds had OpenBLAS only. */
function engineOf(addon: NativeKernelsAddon): string {
  return typeof addon.engine === 'function' ? (addon.engine as () => string)() : 'OpenBLAS';
}

const usesAddon = (v: Variant | ''): boolean => v === 'native' || v === 'openblas' || v === 'builtin';

/** The engine the addon started with (oneDNN when built with it, or what PROMPTKD_NATIVE_ENGINE chose): `native` rows use it. */
let startEngine: string | undefined;
function defaultEngineOf(addon: NativeKernelsAddon | undefined): string {
  startEngine ??= (addon && typeof addon.engines === 'function' ? (addon.engines as () => string[])()[0] : undefined) ?? (addon && engineOf(addon) !== 'OpenBLAS' ? 'onednn' : 'openblas');
  return startEngine;
}

/** Registers the kernels of `variant` on the wasm backend (native on top of the training kernels). */
function useVariant(variant: Variant, addon: NativeKernelsAddon | undefined, defaultEngine: string): void {
  unregisterNativeKernels();
  if (variant === 'stock') unregisterWasmTrainingKernels();
  else registerWasmTrainingKernels();
  if (usesAddon(variant) && addon) {
    registerNativeKernels(addon);
    if (typeof addon.setEngine === 'function') (addon.setEngine as (e: string) => void)(variant === 'native' ? defaultEngine : variant);
  }
}

/** A reference step to alternate with ours (PyTorch's, timed in its own process); returns its milliseconds. */
/** One run of the reference: `steps` steps in a row; milliseconds per step. */
type Partner = (steps?: number) => Promise<number>;

/**
 * A timed run lasts at least this long: a shorter step runs k times in a row per run, on both sides, and the run's
 * time per step is what counts. A single step of a few ms shares its run with whatever the other process's threads
 * and V8's collector happen to do in those ms (the KDP step: single steps of 13–48 ms for a median of 21).
 */
const MIN_RUN_MS = 300;

/**
 * Warm-up lasts at least this long as well as `--warmup` steps (both sides run the same number of steps): V8 compiles
 * tfjs's paths over the first hundred-odd steps of a workload of many small kernels (the KDP step fell from 22 to 12 ms
 * per step over its first 150 steps), so one warm-up step measured the compiler, not the step.
 */
const MIN_WARMUP_MS = 3000;

/** Median milliseconds and GFLOP/s of an n×n·n×n matmul on the active backend (and the partner's times, if any). */
async function timeMatmul(n: number, runs: number, partner?: Partner): Promise<{ ms: number; runsMs: number[]; gflops: number; partnerRuns?: number[] }> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2) as tf.Tensor2D;
  try {
    const mm = (): void => tf.matMul(a, b).dispose();
    const paired = partner ? await timePaired(mm, partner, runs, 1) : undefined;
    const times = paired ? paired.ours : timeIt(mm, runs, 1);
    const ms = median(times);
    return { ms, runsMs: times.map((t) => Math.round(t * 10) / 10), gflops: (2 * n ** 3) / ms / 1e6, partnerRuns: paired?.partner };
  } finally {
    tf.dispose([a, b]);
  }
}

type Flops = { forward: number; step: number };

/**
 * Times `runs` training steps of `m` after `warmup`, alternating with `partner`'s steps when given (their times in
 * `partnerRuns`); checks that a step leaves no tensor behind.
 */
async function benchModel(m: BenchModel, flops: Flops, runs: number, warmup: number, forward: boolean, partner?: Partner): Promise<Partial<Row> & { partnerRuns?: number[] }> {
  const row: Partial<Row> & { partnerRuns?: number[] } = {
    paramsTrainable: m.params.trainable,
    paramsFrozen: m.params.frozen,
    fwdGflop: flops.forward / 1e9,
    stepGflop: flops.step / 1e9,
    flopsRule: m.flopsRule,
  };
  const session = m.start();
  const meter = tf.getBackend() === 'wasm' ? heapMeter : undefined;
  let loss = NaN;
  const step = (): void => {
    const l = session.step();
    loss = l.dataSync()[0] as number;
    l.dispose();
  };
  try {
    let warmed = 0;
    const w0 = performance.now();
    while (warmed < warmup || (warmup > 0 && performance.now() - w0 < MIN_WARMUP_MS)) {
      step();
      warmed++;
    }
    if (partner && warmed > 0) await partner(warmed);
    row.warmupSteps = warmed;
    const k = warmup > 0 ? Math.min(20, Math.max(1, Math.ceil(MIN_RUN_MS / timeIt(step, 1, 0)[0]!))) : 1;
    row.stepsPerRun = k;
    const run = (): void => {
      for (let i = 0; i < k; i++) step();
    };
    const before = tf.memory().numTensors;
    meter?.reset();
    let times: number[];
    if (partner) ({ ours: times, partner: row.partnerRuns } = await timePaired(run, () => partner(k), runs, 0));
    else times = timeIt(run, runs, 0);
    times = times.map((t) => t / k);
    // Without a warm-up the first step creates the optimizer's slots, which is not a leak: only count after one.
    if (warmup > 0) row.leakedTensorsPerStep = (tf.memory().numTensors - before) / (runs * k);
    row.stepRunsMs = times.map((t) => Math.round(t));
    row.stepMs = median(times);
    row.gflops = flops.step / row.stepMs / 1e6;
    row.loss = loss;
    // One more (untimed) step under tf.profile: kernels per step and the live-tensor high-water mark.
    row.tensorPeakMiB = meter?.peakMiB();
    const prof = await tf.profile(step);
    row.kernelsPerStep = prof.kernels.length;
    row.wasmHeapMiB = wasmHeapMiB();
    row.rssPeakMiB = peakRssMiB();
    if (forward) {
      const fwd = (): void => {
        const out = tf.tidy(() => m.forward());
        out.dataSync();
        out.dispose();
      };
      row.forwardMs = median(timeIt(fwd, Math.min(runs, 3), 0));
    }
  } finally {
    session.dispose();
  }
  return row;
}

const fmtMs = (ms?: number): string => (ms === undefined ? '–' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);
const fmtG = (g?: number): string => (g === undefined ? '–' : g.toFixed(g < 1 ? 3 : 1));
const fmtRuns = (r: Row): string =>
  r.stepMs === undefined
    ? '–'
    : `${fmtMs(r.stepMs)}${r.stepRunsMs && r.stepRunsMs.length > 1 ? ` (${r.stepRunsMs.map((t) => Math.round(t)).join(', ')})` : ''}${r.stepsPerRun && r.stepsPerRun > 1 ? `, runs of ${r.stepsPerRun}` : ''}`;
const fmtMiB = (m?: number): string => (m === undefined ? '–' : m >= 1024 ? `${(m / 1024).toFixed(2)} Gi` : m.toFixed(0));
/** `tensors / heap / RSS` for ours (heap only on wasm), `RSS` for PyTorch. */
const fmtMemory = (r: Row): string =>
  r.tensorPeakMiB === undefined && r.rssPeakMiB === undefined
    ? '–'
    : r.tensorPeakMiB === undefined
      ? `RSS ${fmtMiB(r.rssPeakMiB)}`
      : `${fmtMiB(r.tensorPeakMiB)} / ${fmtMiB(r.wasmHeapMiB)} / ${fmtMiB(r.rssPeakMiB)}`;
const fmtCount = (n?: number): string => (n === undefined ? '–' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

function positiveInt(raw: string, field: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--${field} must be a positive integer, got '${raw}'.`, { field, value: raw });
  return n;
}

function list<T extends string>(raw: string, valid: readonly T[], field: string): T[] {
  const out = raw.split(',').map((s) => s.trim()).filter(Boolean) as T[];
  for (const v of out) {
    if (!valid.includes(v)) throw new ConfigError(`unknown ${field} '${v}'; valid: ${valid.join(', ')}.`, { field, value: v, valid });
  }
  return out;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: DEFAULT_MODELS.join(',') },
      'micro-batch': { type: 'string' },
      backends: { type: 'string', default: 'wasm,cpu,tensorflow' },
      variants: { type: 'string', default: 'native,patched' },
      threads: { type: 'string', default: 'auto' },
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      batch: { type: 'string' },
      peak: { type: 'string', default: '2048' },
      'cpu-runs': { type: 'string', default: '1' },
      'cpu-all': { type: 'boolean', default: false },
      forward: { type: 'boolean', default: false },
      'no-torch': { type: 'boolean', default: false },
      micro: { type: 'boolean', default: false },
      'micro-only': { type: 'boolean', default: false },
      'no-json': { type: 'boolean', default: false },
      'in-process': { type: 'boolean', default: false },
      'child-out': { type: 'string' },
      'default-malloc': { type: 'boolean', default: false },
    },
  });
  const models = list(values.models as string, Object.keys(MODELS), 'model');
  const backends = list(values.backends as string, BACKENDS, 'backend');
  const variants = list(values.variants as string, VARIANTS, 'variant');
  const runs = positiveInt(values.runs as string, 'runs');
  const cpuRuns = positiveInt(values['cpu-runs'] as string, 'cpu-runs');
  const warmup = values.warmup === '0' ? 0 : positiveInt(values.warmup as string, 'warmup');
  const batch = values.batch === undefined ? undefined : positiveInt(values.batch, 'batch');
  const microBatch = values['micro-batch'] === undefined ? undefined : positiveInt(values['micro-batch'], 'micro-batch');
  const peakN = values.peak === '0' ? 0 : positiveInt(values.peak as string, 'peak');
  const threadsArg = values.threads as string;
  const threads = threadsArg === 'auto' ? availableParallelism() : positiveInt(threadsArg, 'threads');
  const childOut = values['child-out'];
  const configCount = backends.filter((b) => b !== 'wasm').length + (backends.includes('wasm') ? variants.length : 0);
  // glibc reads these when a process starts: they reach the processes started from here on (each workload's process
  // of ours, and PyTorch's), not this one
  const ownMalloc = mallocSetting(process.env);
  if (!values['default-malloc']) keepFreedBlocks(process.env);
  if (!childOut && !values['in-process'] && !values['micro-only'] && models.length * configCount > 1) {
    await runIsolated(argv, { models, backends, variants, peakN, cpuAll: values['cpu-all'] as boolean, noTorch: values['no-torch'] as boolean, runs, warmup, cpuRuns, threads, batch, noJson: values['no-json'] as boolean });
    return;
  }

  // One thread count for the native kernels and torch; XNNPACK too, except where only the native kernels' variants
  // run: there XNNPACK gets one thread, as `wasmThreads: 'auto'` gives a user (its workers spin after each of the
  // few kernels left to wasm, beside the native kernels' OpenMP threads; README "One pool").
  const onlyAddon = backends.every((b) => b !== 'wasm') || variants.every(usesAddon);
  const choice = await initBackend({ backend: 'wasm', wasmThreads: onlyAddon ? 1 : threads, native: 'auto', nativeThreads: threads });
  let addon: NativeKernelsAddon | undefined;
  let nativeReason = choice.native.reason;
  if (choice.native.active) {
    try {
      const mod = (await import('@promptkd/native-kernels')) as { loadNativeAddon(): NativeKernelsAddon };
      addon = mod.loadNativeAddon(); // the module initBackend already loaded (require cache)
    } catch (err) {
      nativeReason = firstLine(err);
    }
  }
  const defaultEngine = defaultEngineOf(addon);
  const torchProbe = values['no-torch'] ? { reason: '--no-torch' } : probeTorch();
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    tfjs: tf.version.tfjs,
    threads,
    wasmThreads: getThreadsCount(),
    wasmThreadsReason: choice.threadsReason,
    native: addon ? { active: true, threads: addon.getThreads(), engine: engineOf(addon) } : { active: false, threads: 0, reason: nativeReason ?? 'unknown' },
    openblasCoreType: process.env.OPENBLAS_CORETYPE ?? 'auto',
    malloc: { ours: ownMalloc, torch: mallocSetting(process.env) },
    ompWaitPolicy: { ours: process.env.OMP_WAIT_POLICY ?? 'libgomp default (spin, then sleep)', torch: torchOmpWaitPolicy() },
    torch: torchProbe.version ? { available: true, version: torchProbe.version, threads } : { available: false, reason: torchProbe.reason },
    runs,
    warmup,
    cpuRuns,
    peakN,
    patches: choice.patches,
  };
  console.log(`tfjs ${env.tfjs}, node ${env.node}, ${env.cpus} cpus (${env.cpuModel}); allocator: ours ${env.malloc.ours}, PyTorch ${env.malloc.torch}`);
  console.log(
    `threads: ${threads} (--threads N|auto) — wasm XNNPACK ${env.wasmThreads}${env.wasmThreadsReason ? ` (${env.wasmThreadsReason})` : ''}, ` +
      `native ${addon ? addon.getThreads() : '–'}, torch ${torchProbe.version ? threads : '–'}`,
  );
  console.log(addon ? `native kernels: available (OpenBLAS core type: ${env.openblasCoreType}; GEMM and convolutions: ${engineOf(addon)})` : `native kernels: not available: ${nativeReason}`);
  console.log(
    torchProbe.version
      ? `PyTorch: ${torchProbe.version} (${threads} threads; ${backends.includes('wasm') ? `its steps alternate with ours on wasm/${variants[0]}` : 'timed after our runs'})`
      : `PyTorch: not available: ${torchProbe.reason}`,
  );
  if (env.wasmThreads !== threads) console.log(`note: wasm runs ${env.wasmThreads} thread(s), not ${threads}${onlyAddon ? ' (XNNPACK beside the native kernels)' : ''}`);

  let micro: MicroResult[] | undefined;
  if (values.micro || values['micro-only']) micro = await runMicro(runs, addon);

  const rows: Row[] = [];
  const flopsCache = new Map<string, Flops>();
  let torchRes: TorchResult | undefined;
  let torchError: string | undefined;
  if (!values['micro-only']) {
    const configs: { backend: string; variant: Variant | '' }[] = [];
    for (const backend of backends) {
      if (backend === 'wasm') for (const v of variants) configs.push({ backend, variant: v });
      else configs.push({ backend, variant: '' });
    }
    // PyTorch's steps alternate with those of the first wasm kernel set (a persistent torch_bench.py --serve).
    const pairWith = torchProbe.version && backends.includes('wasm') ? variants[0] : undefined;
    const server = pairWith ? new TorchServer(threads) : undefined;
    const paired: TorchResult | undefined = server ? { torch: torchProbe.version as string, threads, models: {} } : undefined;
    for (const { backend, variant } of configs) {
      // the threads that do the work: the native kernels' on their kernel sets, XNNPACK's on the wasm ones
      const cfgThreads = backend !== 'wasm' ? 1 : usesAddon(variant) && addon ? addon.getThreads() : env.wasmThreads;
      const base = { backend, variant, threads: cfgThreads };
      if (backend === 'wasm' && usesAddon(variant) && !addon) {
        rows.push({ ...base, model: '*', batch: 0, unavailable: nativeReason ?? 'addon not loaded' });
        console.log(`\nwasm (native): not available: ${nativeReason}`);
        continue;
      }
      if (backend !== 'wasm' && !tf.findBackend(backend)) {
        const reason = await loadBackend(backend);
        if (reason) {
          rows.push({ ...base, model: '*', batch: 0, unavailable: reason });
          console.log(`\n${backend}: not available: ${reason}`);
          continue;
        }
      }
      await tf.setBackend(backend);
      if (backend === 'wasm') useVariant(variant as Variant, addon, defaultEngine);
      if (backend === 'wasm') heapMeter ??= WasmAllocations.install();
      const label = `${backend}${variant ? ` (${variant})` : ''}`;
      const slow = backend !== 'wasm';
      if (peakN) {
        // The cpu backend runs plain JS loops: a 2048³ matmul would take a minute there.
        const n = backend === 'cpu' ? Math.min(peakN, 1024) : peakN;
        try {
          const pairPeak = server && paired && backend === 'wasm' && variant === pairWith;
          if (pairPeak) await server.setup('matmul', { n });
          const p = await timeMatmul(n, slow ? 1 : Math.max(runs, 3), pairPeak ? async () => (await server.step()).ms : undefined);
          if (paired && p.partnerRuns) {
            const ms = median(p.partnerRuns);
            paired.peak = { n, ms, runs_ms: p.partnerRuns, gflops: (2 * n ** 3) / ms / 1e6 };
          }
          rows.push({ ...base, model: `matmul ${n}³`, batch: 1, stepMs: p.ms, stepRunsMs: p.runsMs, stepGflop: (2 * n ** 3) / 1e9, gflops: p.gflops, peakGflops: p.gflops, pctPeak: 100 });
          console.log(`\n${label}: matmul ${n}³ ${fmtMs(p.ms)}, ${fmtG(p.gflops)} GFLOP/s`);
        } catch (err) {
          rows.push({ ...base, model: `matmul ${n}³`, batch: 1, error: firstLine(err) });
        }
      }
      const peak = rows.find((r) => r.backend === backend && r.variant === variant && r.peakGflops)?.peakGflops;
      const pairing = server && paired && backend === 'wasm' && variant === pairWith;
      for (const name of models) {
        if (backend === 'cpu' && name !== 'small-cnn' && !values['cpu-all']) continue;
        console.log(`${name} on ${label} ...`);
        resetPeakRss();
        const m = (MODELS[name] as NonNullable<(typeof MODELS)[string]>)({ ...(batch ? { batch } : {}), ...(microBatch ? { microBatch } : {}) });
        const row: Row = { ...base, model: name, batch: m.batch };
        try {
          let flops = flopsCache.get(name);
          if (!flops) flopsCache.set(name, (flops = await m.countFlops()));
          let partner: Partner | undefined;
          let setup: Awaited<ReturnType<TorchServer['setup']>> | undefined;
          const losses: Array<number | null> = [];
          if (pairing) {
            try {
              setup = await server.setup(name, { batch, spec: m.torchSpec });
              partner = async (steps) => {
                const r = await server.step(steps);
                losses.push(r.loss);
                return r.ms;
              };
            } catch (err) {
              (paired.models as Record<string, { error: string }>)[name] = { error: firstLine(err) };
            }
          }
          const { partnerRuns, ...timed } = await benchModel(m, flops, slow ? cpuRuns : runs, slow ? 0 : warmup, values.forward as boolean, partner);
          Object.assign(row, timed);
          if (server && paired && setup && partnerRuns) {
            const mem = await server.memory();
            paired.models[name] = { ...(setup as TorchWorkload), step_ms: median(partnerRuns), step_runs_ms: partnerRuns, steps_per_run: timed.stepsPerRun, rss_peak_mib: mem.rss_peak_mib, loss: losses.at(-1) ?? NaN };
          }
          if (peak && row.gflops) row.pctPeak = (100 * row.gflops) / peak;
          console.log(`  step ${fmtRuns(row)}, ${fmtG(row.gflops)} GFLOP/s, loss ${row.loss?.toPrecision(4)}`);
        } catch (err) {
          row.error = firstLine(err);
          console.log(`  ✗ ${row.error}`);
        } finally {
          m.dispose();
        }
        rows.push(row);
      }
    }
    await tf.setBackend('wasm');
    useVariant(addon ? 'native' : 'patched', addon, defaultEngine);
    server?.close();
    if (paired) torchRes = paired;
    if (childOut) {
      writeFileSync(childOut, JSON.stringify({ env, rows, torch: torchRes ?? null, micro }));
      return;
    }

    if (torchProbe.version && !paired) {
      console.log(`\nPyTorch ${torchProbe.version}, ${threads} threads ...`);
      const args = [fileURLToPath(new URL('./torch_bench.py', import.meta.url)), '--threads', String(threads), '--runs', String(runs), '--warmup', String(warmup), '--peak', String(peakN), '--models', models.join(',')];
      if (batch) args.push('--batch', String(batch));
      const res = spawnSync('python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, env: torchEnv() });
      try {
        if (res.error) throw res.error;
        if (res.status !== 0) throw new Error(`exited with ${res.status}`);
        torchRes = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as TorchResult;
      } catch (err) {
        torchError = `scripts/bench/torch_bench.py failed: ${firstLine(err)}`;
        console.log(`PyTorch: ${torchError}`);
      }
    }
    if (torchRes) mergeTorch(rows, torchRes, models);
    else rows.push({ model: '*', batch: 0, backend: 'pytorch', variant: '', threads, unavailable: torchError ?? torchProbe.reason ?? 'not run' });

    printTable(rows, models, runs, warmup, cpuRuns);
    if (torchRes) printCheck(rows, torchRes);
  }

  if (!values['no-json']) {
    mkdirSync('bench-results', { recursive: true });
    const file = `bench-results/bench-${env.date.slice(0, 19).replace(/:/g, '-')}.json`;
    writeFileSync(file, JSON.stringify({ env, rows, torch: torchRes ?? { error: torchError ?? torchProbe.reason }, micro }, null, 2));
    console.log(`wrote ${file}`);
  }
}

interface IsolatedOptions {
  models: string[];
  backends: string[];
  variants: Variant[];
  peakN: number;
  cpuAll: boolean;
  noTorch: boolean;
  runs: number;
  warmup: number;
  cpuRuns: number;
  threads: number;
  batch: number | undefined;
  noJson: boolean;
}

/**
 * Runs every (workload, backend/variant) in a fresh process of this script (`--child-out`), so each has its own
 * wasm heap and RSS high-water mark, and PyTorch (paired with the first wasm kernel set) its own process too; then
 * prints one table from all of them.
 */
async function runIsolated(argv: string[], o: IsolatedOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'promptkd-bench-'));
  const torchProbe = o.noTorch ? { reason: '--no-torch' } : probeTorch();
  const pairWith = torchProbe.version && o.backends.includes('wasm') ? o.variants[0] : undefined;
  const configs: { backend: string; variant: Variant | '' }[] = [];
  for (const backend of o.backends) {
    if (backend === 'wasm') for (const v of o.variants) configs.push({ backend, variant: v });
    else configs.push({ backend, variant: '' });
  }
  // Flags every child gets as they were given (the selection flags are set per child below).
  const own = new Set(['--models', '--backends', '--variants', '--peak', '--no-torch', '--no-json', '--child-out', '--in-process']);
  const passed: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const key = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    const takesValue = !a.includes('=') && ['--threads', '--runs', '--warmup', '--batch', '--micro-batch', '--cpu-runs', '--models', '--backends', '--variants', '--peak', '--child-out'].includes(a);
    if (!own.has(key)) passed.push(a, ...(takesValue ? [argv[i + 1] as string] : []));
    if (takesValue) i++;
  }
  let env: unknown;
  const rows: Row[] = [];
  const torch: TorchResult | undefined = pairWith ? { torch: torchProbe.version as string, threads: o.threads, models: {} } : undefined;
  let n = 0;
  for (const { backend, variant } of configs) {
    const list = backend === 'cpu' && !o.cpuAll ? o.models.filter((m) => m === 'small-cnn') : o.models;
    const jobs = list.length ? list : o.peakN ? [o.models[0] as string] : [];
    for (const [i, model] of jobs.entries()) {
      const out = join(dir, `child-${n++}.json`);
      const pair = backend === 'wasm' && variant === pairWith;
      const args = [...passed, '--models', model, '--backends', backend, '--variants', variant || 'native', '--peak', String(i === 0 ? o.peakN : 0), '--child-out', out];
      if (!pair) args.push('--no-torch');
      const res = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, ...args], { stdio: 'inherit' });
      let child: { env: unknown; rows: Row[]; torch: TorchResult | null } | undefined;
      try {
        child = JSON.parse(readFileSync(out, 'utf8')) as typeof child;
      } catch {
        rows.push({ model, batch: 0, backend, variant, threads: o.threads, error: `bench child exited with ${res.status ?? res.signal} and wrote no result` });
        continue;
      }
      env ??= child!.env;
      // A child that skipped its workload (cpu backend) still reports the peak row.
      rows.push(...child!.rows.filter((r) => list.includes(r.model) || r.model.startsWith('matmul') || r.model === '*'));
      if (torch && child!.torch) {
        Object.assign(torch.models, child!.torch.models);
        torch.peak ??= child!.torch.peak;
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  for (const r of rows) {
    const peak = rows.find((p) => p.backend === r.backend && p.variant === r.variant && p.peakGflops)?.peakGflops;
    if (peak && r.gflops && r.pctPeak === undefined) r.pctPeak = (100 * r.gflops) / peak;
  }
  if (torch) mergeTorch(rows, torch, o.models);
  else rows.push({ model: '*', batch: 0, backend: 'pytorch', variant: '', threads: o.threads, unavailable: torchProbe.reason ?? 'not paired (no wasm backend)' });
  printTable(rows, o.models, o.runs, o.warmup, o.cpuRuns);
  if (torch) printCheck(rows, torch);
  if (!o.noJson) {
    mkdirSync('bench-results', { recursive: true });
    const date = ((env as { date?: string } | undefined)?.date ?? new Date().toISOString()).slice(0, 19).replace(/:/g, '-');
    const file = `bench-results/bench-${date}.json`;
    writeFileSync(file, JSON.stringify({ env: { ...(env as object), isolated: true }, rows, torch: torch ?? { error: torchProbe.reason } }, null, 2));
    console.log(`wrote ${file}`);
  }
}

/** Imports the package of a non-wasm tfjs backend; returns why it is not available, or undefined. */
async function loadBackend(backend: string): Promise<string | undefined> {
  const pkg = BACKEND_PACKAGE[backend] ?? backend;
  try {
    await import(pkg);
    return tf.findBackendFactory(backend) ? undefined : `${pkg} registered no '${backend}' backend`;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? `${pkg} is not installed` : `${pkg} failed to load: ${firstLine(err)}`;
  }
}

/** Adds PyTorch's time to our rows (same model and batch) and one PyTorch row per model and for the peak. */
function mergeTorch(rows: Row[], t: TorchResult, models: readonly string[]): void {
  const ours = [...rows];
  if (t.peak) {
    const n = t.peak.n;
    rows.push({ model: `matmul ${n}³`, batch: 1, backend: 'pytorch', variant: '', threads: t.threads, stepMs: t.peak.ms, stepRunsMs: t.peak.runs_ms, stepGflop: (2 * n ** 3) / 1e9, gflops: t.peak.gflops, peakGflops: t.peak.gflops, pctPeak: 100 });
    for (const r of ours) if (r.model === `matmul ${n}³` && r.stepMs) Object.assign(r, { torchMs: t.peak.ms, oursOverTorch: r.stepMs / t.peak.ms });
  }
  for (const name of models) {
    const w = t.models[name];
    if (!w) continue;
    if ('error' in w && w.error) {
      rows.push({ model: name, batch: 0, backend: 'pytorch', variant: '', threads: t.threads, error: w.error });
      continue;
    }
    const tw = w as TorchWorkload;
    const gflops = (tw.step_gflop * 1e3) / tw.step_ms;
    rows.push({
      model: name,
      batch: tw.batch,
      backend: 'pytorch',
      variant: '',
      threads: t.threads,
      paramsTrainable: tw.params_trainable,
      paramsFrozen: tw.params_frozen,
      fwdGflop: tw.fwd_gflop,
      stepGflop: tw.step_gflop,
      flopsRule: tw.flops_rule,
      stepMs: tw.step_ms,
      stepRunsMs: tw.step_runs_ms.map((x) => Math.round(x)),
      ...(tw.steps_per_run ? { stepsPerRun: tw.steps_per_run } : {}),
      ...(tw.rss_peak_mib !== undefined ? { rssPeakMiB: tw.rss_peak_mib } : {}),
      gflops,
      ...(t.peak ? { pctPeak: (100 * gflops) / t.peak.gflops } : {}),
      loss: tw.loss,
    });
    for (const r of ours) if (r.model === name && r.batch === tw.batch && r.stepMs) Object.assign(r, { torchMs: tw.step_ms, oursOverTorch: r.stepMs / tw.step_ms });
  }
}

function printTable(rows: Row[], models: readonly string[], runs: number, warmup: number, cpuRuns: number): void {
  const order = (r: Row): number => (r.model.startsWith('matmul') ? -1 : r.model === '*' ? 1e3 : models.indexOf(r.model));
  const backendOrder = (r: Row): number => ['wasm', 'cpu', 'tensorflow', 'pytorch'].indexOf(r.backend) * 10 + VARIANTS.indexOf(r.variant as Variant);
  const sorted = [...rows].sort((a, b) => order(a) - order(b) || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0) || backendOrder(a) - backendOrder(b));
  const t = new Table({
    head: ['model', 'batch', 'backend/variant', 'threads', 'step (median, runs)', 'step GFLOP', 'GFLOP/s', '% of matmul peak', 'PyTorch', 'ours/PyTorch', 'kernels/step', 'peak MiB: tensors / heap / RSS', 'leak/step'],
    style: { head: [], border: [] },
  });
  for (const r of sorted) {
    const bv = `${r.backend}${r.variant ? `/${r.variant}` : ''}`;
    if (r.unavailable) {
      t.push([r.model, '–', bv, r.threads, { colSpan: 9, content: `not available: ${r.unavailable}` }]);
      continue;
    }
    t.push([
      r.model,
      r.batch,
      bv,
      r.threads,
      r.error ? `✗ ${r.error.slice(0, 70)}` : fmtRuns(r),
      r.stepGflop === undefined ? '–' : r.stepGflop.toFixed(r.stepGflop < 10 ? 2 : 1),
      fmtG(r.gflops),
      r.pctPeak === undefined ? '–' : `${r.pctPeak.toFixed(0)}%`,
      fmtMs(r.torchMs),
      r.oursOverTorch === undefined ? '–' : `${r.oursOverTorch.toFixed(2)}×`,
      r.kernelsPerStep ?? '–',
      fmtMemory(r),
      r.leakedTensorsPerStep ?? '–',
    ]);
  }
  console.log(
    `\nstep = forward + backward + optimizer (FLOPs per workload: scripts/bench/README.md); median of ${runs} runs after ${warmup} warm-up (and at least ${MIN_WARMUP_MS / 1000} s of them) ` +
      `(cpu backend: ${cpuRuns} run, no warm-up); % of matmul peak = GFLOP/s ÷ the matmul row of the same backend/variant`,
  );
  console.log(t.toString());
}

/** Ours vs PyTorch: parameter counts and forward FLOPs must agree (the workloads compute the same thing). */
function printCheck(rows: Row[], t: TorchResult): void {
  const lines: string[] = [];
  for (const [name, w] of Object.entries(t.models)) {
    if ('error' in w && w.error) continue;
    const tw = w as TorchWorkload;
    const ours = rows.find((r) => r.model === name && r.backend !== 'pytorch' && r.fwdGflop !== undefined);
    if (!ours) continue;
    const pOk = ours.paramsTrainable === tw.params_trainable && ours.paramsFrozen === tw.params_frozen;
    const dFwd = (100 * ((ours.fwdGflop ?? 0) - tw.fwd_gflop)) / tw.fwd_gflop;
    const dStep = (100 * ((ours.stepGflop ?? 0) - tw.step_gflop)) / tw.step_gflop;
    const ok = pOk && Math.abs(dFwd) < 0.5 && Math.abs(dStep) < 0.5;
    lines.push(
      `${ok ? '✓' : '✗'} ${name}: params ${fmtCount(ours.paramsTrainable)} trainable + ${fmtCount(ours.paramsFrozen)} frozen ` +
        `(torch ${fmtCount(tw.params_trainable)} + ${fmtCount(tw.params_frozen)}${pOk ? ', equal' : ', DIFFERENT'}); ` +
        `fwd ${fmtG(ours.fwdGflop)} vs ${fmtG(tw.fwd_gflop)} GFLOP (${dFwd >= 0 ? '+' : ''}${dFwd.toFixed(2)}%), step ${fmtG(ours.stepGflop)} vs ${fmtG(tw.step_gflop)}`,
    );
  }
  if (lines.length) console.log(`same computation as PyTorch? (parameters, FLOPs counted by torch.utils.flop_counter)\n  ${lines.join('\n  ')}`);
}

async function runMicro(runs: number, addon: NativeKernelsAddon | undefined): Promise<MicroResult[]> {
  console.log('\nmicro-benchmarks (kernel level) ...');
  useVariant('patched', addon, defaultEngineOf(addon));
  const micro = runMicroPatched(runs);
  useVariant('stock', addon, defaultEngineOf(addon));
  try {
    runMicroStock(micro, runs);
  } finally {
    useVariant('patched', addon, defaultEngineOf(addon));
  }
  await runMicroCpu(micro);
  if (addon) {
    useVariant('native', addon, defaultEngineOf(addon));
    runMicroNative(micro, runs);
  }
  const t = new Table({ head: ['case', 'patched', 'GFLOP/s', 'baseline', 'baseline time', 'GFLOP/s', 'speed-up', 'native', 'GFLOP/s'], style: { head: [], border: [] } });
  for (const r of micro) {
    t.push([
      r.name,
      fmtMs(r.patchedMs),
      fmtG(r.patchedGflops),
      r.baseline === 'cpu' ? `cpu kernel (B=${r.baselineBatch})` : r.baseline,
      fmtMs(r.baselineMs),
      fmtG(r.baselineGflops),
      r.speedup ? `${r.speedup.toFixed(1)}×` : '–',
      addon ? fmtMs(r.nativeMs) : 'n/a',
      fmtG(r.nativeGflops),
    ]);
  }
  console.log(t.toString());
  return micro;
}
