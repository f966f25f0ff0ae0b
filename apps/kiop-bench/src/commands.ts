import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError } from '@promptkd/core';
import { runCellInChild as runChildCell, runGrid, shareCoresAmongJobs } from '@promptkd/experiments';
import { KIOP_VARIANTS, participantPresets, prepareParticipant, runKiopCell, type KiopVariantKey } from '@promptkd/kiop/node';
import { datasetRegistry, loadDataset } from '@promptkd/datasets/node';
import { QUEUE_OPTION_FLAGS, runGridOnQueue, wantsQueue } from '@promptkd/grid-bullmq';
import { writeServablePrompts } from '@promptkd/serve';
import { CLI_ENTRY, cellId, checkCell, PRESET_NAMES, resolveCell, runCellInChild, type KiopCellSpec, type PresetName } from './cells.js';
import { kiopCellKind } from './grid-queue.js';
import { claimThresholds, collectCells, recordedClaimThresholds, writeReport } from './report.js';
import { serveCommandLine, servedLine } from './serve-hints.js';

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${v}`);
  return n;
};
const collect = (v: string, prev: string[]) => [...prev, v];
const PARTICIPANT_HELP =
  'override a field of the participant preset (host and source architecture, pretraining, data limits), e.g. --participant archConfig.blocks=[32,64,128,128] (repeatable)';

/** Runs one cell in this process: prepares (pretrains or loads) host and sources, trains, writes the run folder. */
export async function runOneCell(spec: KiopCellSpec, root: string, weights: { host?: string; sources?: string[] } = {}) {
  const { config, bench } = resolveCell(spec);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  await checkDataAvailable([spec.host, ...spec.sources]);
  const host = await prepareParticipant({ dataset: spec.host, preset: bench, seed: 0, weights: weights.host, log });
  const sources = [];
  for (const [i, ds] of spec.sources.entries()) {
    sources.push(await prepareParticipant({ dataset: ds, preset: bench, seed: 0, weights: weights.sources?.[i], log }));
  }
  try {
    return await runKiopCell({ root, name: cellId(spec), config, preset: bench, presetName: spec.preset, host, sources, writePromptArtifacts: writeServablePrompts });
  } finally {
    host.model.dispose();
    for (const s of sources) s.model.dispose();
  }
}

/**
 * Pretrains (or loads from the model cache) the model of each dataset under `preset`: `jobs` at a time, each in a
 * child process with its share of the cores (`promptkd kiop pretrain`), or here when `jobs` is 1. Prints each
 * model's clean accuracy.
 */
export async function pretrainModels(datasets: readonly string[], preset: PresetName, jobs: number): Promise<void> {
  const log = (l: string) => process.stderr.write(`${l}\n`);
  if (jobs > 1 && datasets.length > 1) {
    shareCoresAmongJobs(jobs);
    const queue = [...datasets];
    const worker = async () => {
      for (let ds = queue.shift(); ds !== undefined; ds = queue.shift()) {
        await runChildCell({ cli: CLI_ENTRY, args: ['kiop', 'pretrain', '--datasets', ds, '--preset', preset, '--jobs', '1'], label: `pretrain ${ds}` });
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, datasets.length) }, worker));
    return;
  }
  for (const ds of datasets) {
    const p = await prepareParticipant({ dataset: ds, preset: participantPresets[preset], seed: 0, log });
    log(`${ds}: ${p.train.count} train / ${p.test.count} test images, clean accuracy ${(100 * p.cleanAccuracy).toFixed(2)}% (${p.weights})`);
    p.model.dispose();
  }
}

/** Loads every dataset's test split once, so that missing data is reported before any pretraining starts. */
export async function checkDataAvailable(datasets: readonly string[]): Promise<void> {
  for (const ds of new Set(datasets)) await loadDataset(ds, { split: 'test' });
}

/** Runs cells, `jobs` at a time in child processes (one wasm engine per core), resuming finished ones. */
export async function runCells(cells: readonly KiopCellSpec[], root: string, jobs: number) {
  shareCoresAmongJobs(jobs);
  return runGrid(
    cells.map((c) => ({ id: cellId(c), config: c })),
    async (cell) => {
      await runCellInChild(cell.config, root);
      return cell.id;
    },
    { root, concurrency: jobs, continueOnError: true },
  );
}

/** `promptkd kiop ...` */
export function kiopCommand(init: () => Promise<unknown>): Command {
  const kiop = new Command('kiop').description('KiOP: store frozen source models in one visual prompt of a frozen host');
  kiop
    .command('run')
    .description('run one cell: host dataset, source dataset(s), variant, preset, seed')
    .requiredOption('--host <dataset>', 'host dataset (Model A): mnist, fashionMnist, cifar10, cifar100, svhn, gtsrb')
    .requiredOption('--source <datasets>', 'source dataset(s) (Model B[, C]), comma-separated', list)
    .addOption(new Option('--variant <key>', 'method').choices([...KIOP_VARIANTS]).default('kiopBF'))
    .addOption(new Option('--preset <name>', 'hyper-parameters').choices(PRESET_NAMES).default('demo'))
    .option('--seed <n>', 'seed', int, 0)
    .option('--set <key=value>', 'override a config field, e.g. --set epochs=3 (repeatable)', collect, [])
    .option('--participant <key=value>', PARTICIPANT_HELP, collect, [])
    .option('--out <dir>', 'runs root', 'runs/kiop')
    .option('--host-weights <file>', 'host checkpoint (safetensors, PyTorch names) instead of pretraining')
    .option('--source-weights <files>', 'source checkpoint(s), comma-separated', list)
    .action(async (o) => {
      const spec: KiopCellSpec = {
        host: o.host, sources: o.source, variant: o.variant as KiopVariantKey, preset: o.preset as PresetName, seed: o.seed, set: o.set,
        ...(o.participant.length ? { participants: o.participant } : {}),
      };
      checkCell(spec, { host: o.hostWeights, sources: o.sourceWeights });
      await init();
      const { folder, results } = await runOneCell(spec, resolve(o.out), { host: o.hostWeights, sources: o.sourceWeights });
      const serve = results.promptArtifacts?.length ? serveCommandLine(results.host.weights, `${folder.dir}/prompts`) : undefined;
      const served = results.served ? { served: results.served } : {};
      process.stdout.write(`${JSON.stringify({ run: folder.dir, final: results.final, best: results.best, ...served, ...(serve ? { serve } : {}) }, null, 2)}\n`);
      if (results.served) process.stderr.write(`${servedLine(results)}\n`);
      if (serve) process.stderr.write(`serve this prompt: ${serve}\n`);
    });
  const grid = kiop
    .command('grid')
    .description('run a Table-1 style grid (pairs × variants × seeds), then write the table')
    .option('--pairs <list>', 'host:source pairs, comma-separated', list, ['mnist:fashionMnist', 'fashionMnist:mnist'])
    .option('--variants <list>', 'variants', list, ['vanillaKd', 'kiopT', 'kiopB', 'kiopBF'])
    .option('--seeds <list>', 'seeds', (v) => list(v).map(int), [0])
    .addOption(new Option('--preset <name>', 'hyper-parameters').choices(PRESET_NAMES).default('cpu'))
    .option('--set <key=value>', 'override a config field (repeatable)', collect, [])
    .option('--participant <key=value>', PARTICIPANT_HELP, collect, [])
    .option('--jobs <n>', 'cells at a time (one process each)', int, 2)
    .option('--out <dir>', 'grid root', 'runs/kiop-grid');
  for (const [flags, description] of QUEUE_OPTION_FLAGS) grid.option(flags, description);
  grid
    .option('--grid <name>', 'grid name in the queue (default: the --out folder\'s name)')
    .option('--detach', 'with --queue: enqueue the cells and exit (then promptkd grid status / collect)')
    .action(async (o) => {
      const cells = gridCells(o.pairs, o.variants, o.seeds, o.preset, o.set, o.participant);
      for (const cell of cells) checkCell(cell);
      await init();
      await checkDataAvailable(cells.flatMap((c) => [c.host, ...c.sources]));
      const root = resolve(o.out);
      const log = (l: string) => process.stderr.write(`${l}\n`);
      let outcomes;
      if (wantsQueue(o)) {
        outcomes = await runGridOnQueue({ kind: kiopCellKind, cells: cells.map((c) => ({ id: cellId(c), config: c })), root, queue: o, log });
        if (!outcomes) return;
      } else {
        await init();
        outcomes = await runCells(cells, root, o.jobs);
      }
      const failed = outcomes.filter((x) => x.status === 'failed');
      const { markdown } = await writeReport(root, collectCells(root), { claims: claimThresholds[o.preset as PresetName] });
      process.stdout.write(`${markdown}\n`);
      if (failed.length) throw new Error(`${failed.length} cell(s) failed: ${failed.map((f) => f.cell.id).join(', ')}`);
    });
  kiop
    .command('pretrain')
    .description("pretrain (or load from the model cache) the preset's host and source models, --jobs at a time")
    .option('--datasets <list>', 'datasets, comma-separated', list, ['mnist', 'fashionMnist'])
    .addOption(new Option('--preset <name>', 'participant preset').choices(PRESET_NAMES).default('demo'))
    .option('--jobs <n>', 'models at a time (one process each)', int, 2)
    .action(async (o) => {
      for (const ds of o.datasets as string[]) datasetRegistry.get(ds);
      await init();
      await checkDataAvailable(o.datasets);
      await pretrainModels(o.datasets, o.preset as PresetName, o.jobs);
    });
  kiop
    .command('table')
    .description('write the results table (markdown + CSV) and curves of a grid folder')
    .argument('<dir>', 'grid root')
    .addOption(new Option('--preset <name>', "the grid's preset: picks the claims' thresholds (default: the preset the cells recorded)").choices(PRESET_NAMES))
    .action(async (dir: string, o: { preset?: PresetName }) => {
      const cells = collectCells(resolve(dir));
      const claims = o.preset ? claimThresholds[o.preset] : recordedClaimThresholds(cells);
      if (!claims) process.stderr.write('no claims table: the cells record no single preset; pass --preset to name it\n');
      const { markdown } = await writeReport(resolve(dir), cells, claims ? { claims } : {});
      process.stdout.write(`${markdown}\n`);
    });
  kiop
    .command('plot')
    .description('training curves (SVG + PNG) of a grid folder; prompt images are in each run folder (figures/prompt.png)')
    .argument('<dir>', 'grid root')
    .action(async (dir: string) => {
      await writeReport(resolve(dir), collectCells(resolve(dir)));
      process.stdout.write(`figures written to ${resolve(dir)}/figures and ${resolve(dir)}\n`);
    });
  return kiop;
}

/** Cells of a grid from `host:source[+source2]` pairs. */
export function gridCells(
  pairs: readonly string[],
  variants: readonly string[],
  seeds: readonly number[],
  preset: string,
  set: readonly string[] = [],
  participants: readonly string[] = [],
): KiopCellSpec[] {
  return pairs.flatMap((p) => {
    const [host, src] = p.split(':');
    if (!host || !src) throw new ConfigError(`pair '${p}' must look like host:source (or host:source1+source2).`, { field: 'pairs', value: p });
    return variants.flatMap((variant) =>
      seeds.map((seed) => ({
        host, sources: src.split('+'), variant: variant as KiopVariantKey, preset: preset as PresetName, seed, set,
        ...(participants.length ? { participants } : {}),
      })),
    );
  });
}
