import * as tf from '@tensorflow/tfjs';
import { Command, Option } from 'commander';
import { PromptKdError } from '@promptkd/core';
import { reportErrorToParent } from '@promptkd/experiments';
import { checkCell, demo, DEMO_VARIANTS, gridCells, kiopCommand } from '@promptkd/kiop-bench';
import { kdpCommand } from '@promptkd/kdp-bench';
import { initBackend, type BackendName } from '@promptkd/tfjs-env';
import { serveCommand } from './serve.js';
import { gridCommand, workerCommand } from './grid-commands.js';

// A cell forked by a grid runner or worker stops when its parent dies (the IPC channel closes), so a killed worker
// leaves no process writing into a run folder that another worker then resumes.
// (The listener would keep the channel, and so the process, alive: unref it.)
if (process.send) {
  process.on('disconnect', () => process.exit(137));
  process.channel?.unref();
}

const program = new Command('promptkd')
  .description('promptkd: knowledge in prompts (KiOP) and continual distillation with prompts (KDP) on TensorFlow.js')
  .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']).env('PROMPTKD_BACKEND').default('auto'))
  .addOption(
    new Option('--wasm-threads <n>', "wasm XNNPACK threads: 'auto' = all cores (shared among --jobs), or a number such as 1")
      .env('PROMPTKD_WASM_THREADS')
      .default('auto')
      .argParser((v) => (v === 'auto' ? v : Number(v))),
  )
  .option('--verbose', 'say why each backend and kernel set was or was not used (same as PROMPTKD_LOG=debug)')
  .showHelpAfterError();

let ready: Promise<unknown> | undefined;
// grid, demo and worker cells run in child processes: they inherit these choices through the environment
const passBackend = () => {
  const o = program.opts();
  const backend = o.backend as BackendName;
  if (backend !== 'auto') process.env.PROMPTKD_BACKEND = backend;
  if (o.verbose) process.env.PROMPTKD_LOG = 'debug';
  return backend;
};
const init = () => {
  const o = program.opts();
  const backend = passBackend();
  // tfjs prints its own "install tfjs-node" banner through its warning channel; production mode silences it
  if (process.env.PROMPTKD_LOG !== 'debug') tf.enableProdMode();
  return (ready ??= initBackend({ backend, wasmThreads: o.wasmThreads as number | 'auto', log: (l) => process.stderr.write(`${l}\n`) }));
};

program
  .command('demo')
  .description('the README main job: KiOP on MNIST (host) and Fashion-MNIST (source), offline, about 15 minutes on 2 cores')
  .option('--out <dir>', 'runs root', 'runs/demo')
  .option('--jobs <n>', 'cells at a time (one process each)', (v) => Number(v), 2)
  .option('--pairs <list>', 'host:source pairs', (v) => v.split(','), ['mnist:fashionMnist'])
  .option('--seed <n>', 'seed', (v) => Number(v), 0)
  .option('--preset <name>', 'preset (smoke: a seconds-long check of the same path)', 'demo')
  .action(async (o) => {
    for (const cell of gridCells(o.pairs, [...DEMO_VARIANTS], [o.seed], o.preset)) checkCell(cell);
    await init();
    await demo({ out: o.out, jobs: o.jobs, pairs: o.pairs, seed: o.seed, preset: o.preset });
  });
program.addCommand(kiopCommand(init));
program.addCommand(kdpCommand(init));
program.addCommand(serveCommand(init));
program.addCommand(workerCommand(passBackend));
program.addCommand(gridCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (PromptKdError.isInstance(err)) {
    process.stderr.write(`error (${err.code}): ${err.message}\n`);
    // a grid cell run by runCellInChild: the parent rethrows the error with its code and details
    await reportErrorToParent(err);
    process.exit(2);
  }
  throw err;
}
