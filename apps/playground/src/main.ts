// The playground page: thin wiring of DOM events to data.ts, models.ts and kiop-run.ts.
import * as tf from '@tensorflow/tfjs';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES } from '@promptkd/datasets';
import type { FunctionalClassifier } from '@promptkd/models';
import { initBackend, type BrowserBackendName } from '@promptkd/tfjs-env/browser';
import { drawChart } from './chart.js';
import { datasetFromFiles, loadBundledData, type Splits } from './data.js';
import { runKiopB, transformedImage, type TrainedPrompt } from './kiop-run.js';
import { accuracy, disposeModel, modelFromSafetensors, pretrain, type ARCHS } from './models.js';
import { WASM_PATHS } from './wasm-paths.js';

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const params = new URLSearchParams(location.search);
/** `?auto=smoke`: load, pretrain tiny models, run KiOP-B smoke and classify one image without a click (tests). */
const auto = params.get('auto');
const ROLES = { host: { dataset: 'mnist', classes: MNIST_CLASSES }, source: { dataset: 'fashionMnist', classes: FASHION_MNIST_CLASSES } } as const;
type Role = keyof typeof ROLES;

const state: {
  data: Map<string, Splits>;
  models: Partial<Record<Role, FunctionalClassifier>>;
  clean: Partial<Record<Role, number>>;
  trained?: TrainedPrompt;
  curves: { accA: number[]; accB: number[] };
} = { data: new Map(), models: {}, clean: {}, curves: { accA: [], accB: [] } };

function fail(where: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  $(where).innerHTML = `<span class="error"></span>`;
  $(where).querySelector('.error')!.textContent = msg;
  document.body.dataset.error = msg;
  console.error(e);
}

function updateRunButton(): void {
  $<HTMLButtonElement>('#run').disabled = !(state.models.host && state.models.source && state.data.has('mnist') && state.data.has('fashionMnist'));
}

function describeData(): void {
  const parts = [...state.data].map(([k, s]) => `${k}: ${s.train.count} train / ${s.test.count} test`);
  $('#data-status').textContent = parts.length ? parts.join(' · ') : 'no data yet: drop the IDX files below';
  updateRunButton();
}

async function setModel(role: Role, model: FunctionalClassifier, how: string): Promise<void> {
  disposeModel(state.models[role]);
  state.models[role] = model;
  const { dataset } = ROLES[role];
  const splits = state.data.get(dataset);
  const acc = splits ? await accuracy(model, dataset, splits.test) : undefined;
  if (acc !== undefined) state.clean[role] = acc;
  $(`[data-status="${role}"]`).textContent = `${how}; ${model.name}, ${acc !== undefined ? `test accuracy ${(100 * acc).toFixed(1)}%` : 'no test data'}`;
  updateRunButton();
}

async function pretrainRole(role: Role): Promise<void> {
  const { dataset } = ROLES[role];
  const splits = state.data.get(dataset);
  if (!splits) throw new Error(`Load ${dataset} first.`);
  const arch = (auto ? 'smoke' : $<HTMLSelectElement>('#arch').value) as keyof typeof ARCHS;
  const epochs = auto ? 1 : Number($<HTMLInputElement>('#epochs').value);
  const status = $(`[data-status="${role}"]`);
  const t0 = performance.now();
  const model = await pretrain(dataset, splits.train, {
    arch,
    epochs,
    seed: role === 'host' ? 1 : 2,
    onProgress: (f, loss) => (status.textContent = `pretraining… ${(100 * f).toFixed(0)}% (loss ${loss.toFixed(3)})`),
  });
  await setModel(role, model, `pretrained here in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function redrawChart(epochs: number): void {
  drawChart(
    $<HTMLCanvasElement>('#chart'),
    [
      { label: 'Acc.A', color: '#1f77b4', values: state.curves.accA, reference: state.clean.host },
      { label: 'Acc.B', color: '#d62728', values: state.curves.accB, reference: state.clean.source },
    ],
    epochs,
  );
}

function showPng(png: Uint8Array): void {
  const img = $<HTMLImageElement>('#prompt-img');
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(new Blob([png as BlobPart], { type: 'image/png' }));
}

async function runKiop(): Promise<void> {
  const preset = (auto ?? $<HTMLSelectElement>('#preset').value) as 'smoke' | 'demo';
  state.trained?.dispose();
  state.trained = undefined;
  state.curves = { accA: [], accB: [] };
  const { kiopPresets } = await import('@promptkd/kiop');
  const epochs = kiopPresets[preset].epochs;
  redrawChart(epochs);
  $<HTMLButtonElement>('#run').disabled = true;
  const t0 = performance.now();
  state.trained = await runKiopB({
    host: state.models.host!,
    source: state.models.source!,
    hostData: state.data.get('mnist')!,
    sourceData: state.data.get('fashionMnist')!,
    preset,
    seed: 0,
    evalLimit: auto ? 100 : 500,
    onProgress: (f, text) => {
      $<HTMLProgressElement>('#progress').value = f;
      $('#progress-text').textContent = text;
    },
    onEpoch: (epoch, png) => {
      state.curves.accA.push(epoch.metrics.accA ?? 0);
      state.curves.accB.push(epoch.metrics.accB ?? 0);
      redrawChart(epochs);
      showPng(png);
    },
  });
  const r = state.trained.result;
  $<HTMLProgressElement>('#progress').value = 1;
  $('#progress-text').textContent =
    `done in ${((performance.now() - t0) / 1000).toFixed(1)} s: Acc.A ${(100 * (r.final.accA ?? 0)).toFixed(1)}%, ` +
    `Acc.B ${(100 * (r.final.accB ?? 0)).toFixed(1)}% (best epoch ${r.best.epoch + 1})`;
  $<HTMLButtonElement>('#run').disabled = false;
  $<HTMLButtonElement>('#random-image').disabled = false;
}

function topList(where: string, probs: number[], names: readonly string[]): { label: string; p: number } {
  const order = probs.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p).slice(0, 3);
  $(where).innerHTML = '';
  for (const { p, i } of order) {
    const li = document.createElement('li');
    li.textContent = `${names[i] ?? i}  ${(100 * p).toFixed(1)}%`;
    $(where).append(li);
  }
  return { label: names[order[0]!.i] ?? String(order[0]!.i), p: order[0]!.p };
}

/** Shows `x` ([1, 32, 32, 3] in [0,1]) and the host's answers without and with the prompt. */
async function classify(x: tf.Tensor4D, truth: string): Promise<{ plain: string; prompted: string }> {
  const canvas = $<HTMLCanvasElement>('#input-img');
  const img = tf.tidy(() => tf.image.resizeNearestNeighbor(tf.squeeze(x, [0]) as tf.Tensor3D, [96, 96]));
  await tf.browser.toPixels(img, canvas);
  img.dispose();
  $('#truth').textContent = truth;
  if (!state.trained) throw new Error('Run KiOP-B first.');
  const plain = topList('#plain-top', state.trained.plain(x), MNIST_CLASSES);
  const prompted = topList('#prompted-top', state.trained.prompted(x), FASHION_MNIST_CLASSES);
  return { plain: plain.label, prompted: prompted.label };
}

async function classifyRandom(seed = Math.floor(Math.random() * 1e6)): Promise<{ plain: string; prompted: string; truth: string }> {
  const test = state.data.get('fashionMnist')!.test;
  const i = seed % test.count;
  const truth = FASHION_MNIST_CLASSES[test.labels[i] as number]!;
  const x = transformedImage(test, 'fashionMnist', i);
  try {
    return { ...(await classify(x, `Fashion-MNIST test image ${i}: ${truth}`)), truth };
  } finally {
    x.dispose();
  }
}

/** A dropped picture: grey, 28×28 (like Fashion-MNIST: a light object on a dark background), then the KiOP transform. */
async function classifyFile(file: File): Promise<void> {
  const bitmap = await createImageBitmap(file);
  const x = tf.tidy(() => {
    const rgb = tf.browser.fromPixels(bitmap).toFloat().div(255);
    const grey = tf.mean(rgb, 2, true);
    const small = tf.image.resizeBilinear(grey as tf.Tensor3D, [28, 28]);
    const x28 = tf.expandDims(small, 0) as tf.Tensor4D;
    return tf.image.resizeBilinear(tf.tile(x28, [1, 1, 1, 3]), [32, 32], false, true) as tf.Tensor4D;
  });
  try {
    await classify(x, file.name);
  } finally {
    x.dispose();
  }
}

function wire(): void {
  $<HTMLSelectElement>('#backend').onchange = (e) => {
    params.set('backend', (e.target as HTMLSelectElement).value);
    location.search = params.toString();
  };
  for (const role of Object.keys(ROLES) as Role[]) {
    $<HTMLButtonElement>(`[data-pretrain="${role}"]`).onclick = () => pretrainRole(role).catch((e) => fail(`[data-status="${role}"]`, e));
    $<HTMLInputElement>(`[data-weights="${role}"]`).onchange = async (e) => {
      const file = (e.target as HTMLInputElement).files?.[0];
      if (!file) return;
      try {
        await setModel(role, modelFromSafetensors(new Uint8Array(await file.arrayBuffer()), file.name), `loaded ${file.name}`);
      } catch (err) {
        fail(`[data-status="${role}"]`, err);
      }
    };
  }
  for (const [key, names] of [['mnist', MNIST_CLASSES], ['fashionMnist', FASHION_MNIST_CLASSES]] as const) {
    $<HTMLInputElement>(`#drop-${key}`).onchange = async (e) => {
      try {
        state.data.set(key, await datasetFromFiles(Array.from((e.target as HTMLInputElement).files ?? []), key, names));
        describeData();
      } catch (err) {
        fail('#data-status', err);
      }
    };
  }
  $<HTMLButtonElement>('#run').onclick = () => runKiop().catch((e) => fail('#progress-text', e));
  $<HTMLButtonElement>('#random-image').onclick = () => classifyRandom().catch((e) => fail('#truth', e));
  $<HTMLInputElement>('#drop-image').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) classifyFile(f).catch((err) => fail('#truth', err));
  };
}

async function start(): Promise<void> {
  const backend = (params.get('backend') ?? 'auto') as BrowserBackendName;
  $<HTMLSelectElement>('#backend').value = backend;
  const lines: string[] = [];
  const choice = await initBackend({ backend, wasmPaths: WASM_PATHS, log: (l) => lines.push(l) });
  $('#backend-report').textContent = lines[lines.length - 1] ?? choice.backend;
  $('#backend-report').title = lines.join('\n');
  wire();
  try {
    const { data } = await loadBundledData();
    state.data = data;
  } catch (e) {
    console.warn('no bundled data', e);
  }
  describeData();
  if (!auto) return;
  // Show the settings the automatic run uses.
  $<HTMLSelectElement>('#arch').value = 'smoke';
  $<HTMLInputElement>('#epochs').value = '1';
  $<HTMLSelectElement>('#preset').value = auto;
  const t0 = performance.now();
  await pretrainRole('host');
  await pretrainRole('source');
  await runKiop();
  const shown = await classifyRandom(0);
  const r = state.trained!.result;
  Object.assign(window, {
    playgroundResult: {
      backend: choice.backend,
      report: lines,
      final: r.final,
      epochs: r.epochs.map((e) => e.metrics),
      clean: state.clean,
      classified: shown,
      seconds: (performance.now() - t0) / 1000,
      numTensors: tf.memory().numTensors,
    },
  });
  document.body.dataset.state = 'done';
}

start().catch((e) => fail('#backend-report', e));
