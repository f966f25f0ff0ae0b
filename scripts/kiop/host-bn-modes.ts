/**
 * Dev aid: a frozen host's accuracy on its bare test images (no prompt) with BatchNorm on its running statistics and
 * on batch statistics (batches of 32, as the KiOP presets evaluate in the reference's mode), to tell what a prompt's
 * canvas costs from what the BN mode costs. 100 test images per class, the datasets' KiOP test transform.
 * `node --conditions=@promptkd/source --import tsx scripts/kiop/host-bn-modes.ts <host.safetensors> <dataset>`
 */
import type * as tf from '@tensorflow/tfjs';
import type { ApplyOptions, ClassifierModel } from '@promptkd/core';
import { evalBatches, kiopTransform } from '@promptkd/datasets';
import { loadDataset, takePerClass } from '@promptkd/datasets/node';
import { evaluate } from '@promptkd/models/node';
import { initBackend } from '@promptkd/tfjs-env';
import { loadHost } from '@promptkd/serve';

const [file, dataset] = process.argv.slice(2);
if (!file || !dataset) {
  console.error('usage: host-bn-modes.ts <host.safetensors> <dataset>');
  process.exit(2);
}
await initBackend({ backend: 'wasm', native: 'auto', log: () => undefined });
const host = await loadHost(file);
const test = takePerClass(await loadDataset(dataset, { split: 'test' }), 100);
// the host as evaluate() sees it, with its BatchNorm on batch statistics
const batchStatistics: ClassifierModel = Object.create(host.model, {
  apply: { value: (x: tf.Tensor4D, options: ApplyOptions = {}) => host.model.apply(x, { ...options, bnStatistics: 'batch' }) },
});
const modes = [
  ['running statistics (batches of 256)', host.model, 256],
  ['batch statistics (batches of 32)', batchStatistics, 32],
] as const;
for (const [label, model, batchSize] of modes) {
  const { accuracy, examples } = await evaluate(model, evalBatches(test, { batchSize, transform: kiopTransform(dataset, 'test') }));
  console.log(`${dataset} host, ${label}: ${(100 * accuracy).toFixed(1)} % of ${examples}`);
}
