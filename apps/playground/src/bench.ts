// The browser bench page: training-step times per backend for the small CNN and the KiOP prompt step.
import * as tf from '@tensorflow/tfjs';
import { momentum } from '@promptkd/core';
import { FusedModels, preservationTerm, sourceTerm } from '@promptkd/kiop';
import { randomLabelMappingSlices } from '@promptkd/label-mapping';
import { createModel, type FunctionalClassifier } from '@promptkd/models';
import { initBackend, type BrowserBackendName } from '@promptkd/tfjs-env/browser';
import { SegmentedPrompt } from '@promptkd/visual-prompt';
import { ARCHS } from './models.js';
import { WASM_PATHS } from './wasm-paths.js';

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const params = new URLSearchParams(location.search);
const BACKENDS = (params.get('backends') ?? 'webgpu,webgl,wasm,cpu').split(',') as BrowserBackendName[];
$('#which').textContent = BACKENDS.join(', ');

/** Median wall time of `steps` calls of `step` (each awaits its loss) after 2 warm-up calls, in ms. */
async function time(step: () => Promise<number>, steps: number): Promise<number> {
  for (let i = 0; i < 2; i++) await step();
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

const net = (k: number, seed: number) => createModel('bnCnn', { ...ARCHS.demo, numClasses: k, seed }) as FunctionalClassifier;

async function smallCnn(steps: number): Promise<number> {
  const model = net(10, 1);
  const x = tf.randomUniform([32, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10);
  const opt = tf.train.sgd(0.05);
  const step = async () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }).logits) as tf.Scalar, true, model.trainableVariables());
    const v = (await loss!.data())[0]!;
    loss!.dispose();
    return v;
  };
  try {
    return await time(step, steps);
  } finally {
    opt.dispose();
    tf.dispose([x, y]);
    model.dispose();
  }
}

async function kiopPromptStep(steps: number): Promise<number> {
  const host = net(10, 1);
  const source = net(10, 2);
  host.setTrainable(false);
  source.setTrainable(false);
  const prompt = new SegmentedPrompt({ sizes: [32, 36, 48], channels: 3 });
  const mappings = randomLabelMappingSlices(10, [10], 0);
  const fused = new FusedModels(host, prompt, mappings, { hostBnTrainMode: false });
  const xa = tf.randomUniform([32, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const xb = tf.randomUniform([32, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const teacherB = tf.tidy(() => source.apply(xb, { training: false }).logits);
  const plainA = tf.tidy(() => fused.plainHostLogits(xa));
  const opt = momentum(0.8, 0.9);
  const step = async () => {
    const { value, grads } = tf.variableGrads(
      () =>
        tf.add(
          preservationTerm(fused.sma(xa), plainA, { temperature: 20, order: 'forward' }),
          sourceTerm(fused.smk(1, xb), teacherB, 20),
        ) as tf.Scalar,
      prompt.trainableVariables(),
    );
    opt.applyGradients(grads);
    const v = (await value.data())[0]!;
    tf.dispose([value, ...Object.values(grads)]);
    return v;
  };
  try {
    return await time(step, steps);
  } finally {
    opt.dispose();
    tf.dispose([xa, xb, teacherB, plainA]);
    prompt.dispose();
    host.dispose();
    source.dispose();
  }
}

async function run(): Promise<Record<string, { report: string; smallCnn?: number; kiopPrompt?: number; error?: string }>> {
  const steps = Number($<HTMLInputElement>('#steps').value);
  const rows: Record<string, { report: string; smallCnn?: number; kiopPrompt?: number; error?: string }> = {};
  const body = $('#table').querySelector('tbody')!;
  body.innerHTML = '';
  for (const backend of BACKENDS) {
    const tr = document.createElement('tr');
    body.append(tr);
    const cells = [backend, '…', '…', '…'].map((t) => {
      const td = document.createElement('td');
      td.textContent = t;
      tr.append(td);
      return td;
    });
    try {
      const lines: string[] = [];
      await initBackend({ backend, wasmPaths: WASM_PATHS, log: (l) => lines.push(l) });
      const report = lines[lines.length - 1] ?? backend;
      cells[1]!.textContent = report;
      $('#status').textContent = `${backend}: small-cnn…`;
      const a = await smallCnn(steps);
      cells[2]!.textContent = a.toFixed(1);
      $('#status').textContent = `${backend}: KiOP prompt step…`;
      const b = await kiopPromptStep(steps);
      cells[3]!.textContent = b.toFixed(1);
      rows[backend] = { report, smallCnn: a, kiopPrompt: b };
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      cells[1]!.textContent = `skipped: ${msg}`;
      rows[backend] = { report: '', error: msg };
    }
  }
  $('#status').textContent = `done: ${navigator.userAgent}`;
  return rows;
}

$<HTMLButtonElement>('#go').onclick = () => void run();
if (params.has('auto')) {
  if (params.get('steps')) $<HTMLInputElement>('#steps').value = params.get('steps')!;
  run().then((rows) => {
    Object.assign(window, { benchResult: rows });
    document.body.dataset.state = 'done';
  });
}
