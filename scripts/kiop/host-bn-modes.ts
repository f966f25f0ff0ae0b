/**
 * Dev aid: a frozen host's accuracy on its bare test images (no prompt) with BatchNorm on its running statistics and
 * on batch statistics (batches of 32, as the KiOP presets evaluate in the reference's mode), to tell what a prompt's
 * canvas costs from what the BN mode costs. 100 test images per class, the datasets' KiOP test transform.
 * `node --conditions=@promptkd/source --import tsx scripts/kiop/host-bn-modes.ts <host.safetensors> <dataset>`
 */
import * as tf from '@tensorflow/tfjs';
import { evalBatches, kiopTransform } from '@promptkd/datasets';
import { loadDataset, takePerClass } from '@promptkd/datasets/node';
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
const modes = [
  ['running statistics (batches of 256)', {}, 256],
  ['batch statistics (batches of 32)', { bnStatistics: 'batch' }, 32],
] as const;
for (const [label, options, batchSize] of modes) {
  let correct = 0;
  for (const { x, y } of evalBatches(test, { batchSize, transform: kiopTransform(dataset, 'test') })) {
    const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(host.model.apply(x as tf.Tensor4D, { training: false, ...options }).logits, 1), y as tf.Tensor), 'int32')));
    correct += hits.dataSync()[0]!;
    tf.dispose([hits, x as tf.Tensor, y as tf.Tensor]);
  }
  console.log(`${dataset} host, ${label}: ${((100 * correct) / test.count).toFixed(1)} % of ${test.count}`);
}
