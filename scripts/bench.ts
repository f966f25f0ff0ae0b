/**
 * `npm run bench` — training-step benchmarks of promptkd's TensorFlow.js setup (see scripts/bench/main.ts).
 *
 *   npm run bench -- [--models small-cnn,resnet18-cifar,vit-tiny-p4] [--backends wasm,cpu] [--runs 3]
 *                    [--variants patched,stock] [--cpu-all] [--cpu-runs 1] [--warmup 1] [--micro] [--micro-only] [--no-json]
 *
 * The workspace packages are consumed from source, which needs the `@promptkd/source` export condition; this
 * wrapper re-executes node with it when it is missing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CONDITION = '--conditions=@promptkd/source';
if (!process.execArgv.includes(CONDITION) && !(process.env.NODE_OPTIONS ?? '').includes('@promptkd/source')) {
  const res = spawnSync(
    process.execPath,
    [CONDITION, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(res.status ?? 1);
} else {
  const { main } = await import('./bench/main.js');
  await main(process.argv.slice(2));
}
