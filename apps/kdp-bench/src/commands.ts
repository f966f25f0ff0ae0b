import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { QUEUE_OPTION_FLAGS, runGridOnQueue, wantsQueue } from '@promptkd/grid-bullmq';
import {
  cdlCellName,
  cdlCellRunOptions,
  cdlGridCells,
  cdlSplitOf,
  collectCdlRuns,
  kdMethodRegistry,
  kdpRunPresets,
  resolveCdlCell,
  resolveKdpPreset,
  runCdlCell,
  runCdlGrid,
  type CdlCellSpec,
  type KdpPresetName,
} from '@promptkd/kdp/node';
import { BACKBONE_NAMES, kdpRunCommand } from './cells.js';
import { kdpCellKind } from './grid-queue.js';
import { report, writePlots, writeTables } from './report.js';

const PRESET_NAMES = Object.keys(kdpRunPresets) as KdpPresetName[];
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${v}`);
  return n;
};
const collect = (v: string, prev: string[]) => [...prev, v];
const log = (l: string) => process.stderr.write(`${l}\n`);

/** Options shared by `run` and `grid`. */
function common(cmd: Command, defaults: { preset: KdpPresetName }): Command {
  return cmd
    .addOption(new Option('--preset <name>', 'hyper-parameters').choices([...PRESET_NAMES]).default(defaults.preset))
    .option('--dataset <key>', 'dataset: fashionMnist (offline default), cifar100, imagenetR (need user files)')
    .option('--data-root <dir>', 'folder with the dataset files (else the usual cache / system locations)')
    .addOption(new Option('--teacher <name>', 'teacher backbone shape').choices([...BACKBONE_NAMES]).default('preset'))
    .addOption(new Option('--student <name>', 'student backbone shape (also the shared query ViT)').choices([...BACKBONE_NAMES]).default('preset'))
    .option('--teacher-weights <file>', 'timm ViT checkpoint (safetensors) for the teacher instead of in-app pretraining')
    .option('--student-weights <file>', 'timm ViT checkpoint (safetensors) for the student / query ViT')
    .option('--set <key=value>', 'override a preset field, e.g. --set training.epochs=4 (repeatable)', collect, []);
}

/** The cell fields the options of `run` and `grid` share (all but split, CL method and seed). */
function baseOf(o: Record<string, unknown>): Omit<CdlCellSpec, 'split' | 'cl' | 'seed'> {
  return {
    preset: o.preset as KdpPresetName,
    ...(o.dataset ? { dataset: o.dataset as string } : {}),
    ...(o.dataRoot ? { dataRoot: resolve(o.dataRoot as string) } : {}),
    kd: o.kd as string[],
    ...(o.teacher !== 'preset' ? { teacher: o.teacher as string } : {}),
    ...(o.student !== 'preset' ? { student: o.student as string } : {}),
    ...(o.teacherWeights ? { teacherWeights: resolve(o.teacherWeights as string) } : {}),
    ...(o.studentWeights ? { studentWeights: resolve(o.studentWeights as string) } : {}),
    ...((o.set as string[]).length ? { set: o.set as string[] } : {}),
  };
}

/** `promptkd kdp ...` */
export function kdpCommand(init: () => Promise<unknown>): Command {
  const kdp = new Command('kdp').description('KDP: continual distillation with prompts on ViTs (teacher → student, prompt-based CL)');
  common(
    kdp
      .command('run')
      .description('run one cell: CL method × KD method(s) × backbones × dataset split × preset × seed (KD methods share one teacher run)'),
    { preset: 'demo' },
  )
    .option('--split <NxK>', 'tasks × classes per task, e.g. 2x5 or 5x2 (default: the preset\'s)')
    .option('--cl <key>', 'CL method: coda, dualprompt, l2p', 'coda')
    .option('--kd <list>', `KD method(s), comma-separated: ${kdMethodRegistry.ordered().join(', ')}`, list, ['none', 'kdp'])
    .option('--seed <n>', 'seed (prompt init and batch order; backbones are the same for every seed)', int, 0)
    .option('--out <dir>', 'runs root', 'runs/kdp')
    .action(async (o) => {
      const spec: CdlCellSpec = { ...baseOf(o), ...(o.split ? { split: o.split as string } : {}), cl: o.cl as string, seed: o.seed as number };
      const run = cdlCellRunOptions(spec, resolve(o.out)); // unknown dataset, split, CL/KD method or --set field: said before any work
      await init();
      const results = await runCdlCell({ ...run, log });
      const summary = Object.fromEntries(
        [...results].map(([kd, r]) => [kd, { acc: r.student.summary.finalAccuracy, fgt: r.student.summary.forgetting, teacherAcc: r.teacher?.summary.finalAccuracy, seconds: r.seconds }]),
      );
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });
  const grid = common(kdp.command('grid').description('run seeds × KD methods × CL methods × splits (child processes, resumable), then write the tables and plots'), {
    preset: 'cpu',
  })
    .option('--splits <list>', 'splits, e.g. 2x5,5x2 (default: the preset\'s)', list)
    .option('--cl <list>', 'CL methods', list, ['coda'])
    .option('--kd <list>', 'KD methods (default: all but the controls)', list, kdMethodRegistry.ordered().filter((k) => !kdMethodRegistry.get(k).meta?.control))
    .option('--seeds <list>', 'seeds (≥ 5 for the table to mean anything; default: the preset\'s)', (v) => list(v).map(int))
    .option('--jobs <n>', 'groups at a time (one process each)', int, 2)
    .option('--out <dir>', 'grid root', 'runs/kdp-grid')
    .option('--grid <name>', 'with --queue: grid name in the queue (default: the --out folder\'s name)')
    .option('--detach', 'with --queue: enqueue the groups and exit (then promptkd grid status / collect)');
  for (const [flags, description] of QUEUE_OPTION_FLAGS) grid.option(flags, description);
  grid.action(async (o) => {
    const preset = resolveKdpPreset({ preset: o.preset as string, overrides: o.set as string[] });
    o.splits ??= [cdlSplitOf(preset)];
    o.seeds ??= [...preset.seeds];
    const cells = cdlGridCells(baseOf(o), { splits: o.splits as string[], clMethods: o.cl as string[], seeds: o.seeds as number[] });
    // validate every cell before any work (and before anything is enqueued)
    const ids = cells.map((c) => cdlCellName(resolveCdlCell(c), c.cl, c.seed));
    const t0 = performance.now();
    const root = resolve(o.out);
    let outcomes;
    if (wantsQueue(o)) {
      outcomes = await runGridOnQueue({ kind: kdpCellKind, cells: cells.map((c, i) => ({ id: ids[i] as string, config: c })), root, queue: o, log, noun: 'groups' });
      if (!outcomes) return;
    } else {
      await init();
      outcomes = await runCdlGrid({ cells, root, jobs: o.jobs as number, command: kdpRunCommand, log });
    }
    const markdown = await report(root);
    process.stdout.write(`${markdown}\nwall time: ${((performance.now() - t0) / 60000).toFixed(1)} min\n`);
    const failed = outcomes.filter((x) => x.status === 'failed');
    if (failed.length) throw new Error(`${failed.length} group(s) failed: ${failed.map((f) => String((f.error as Error).message)).join('; ')}`);
  });
  kdp
    .command('table')
    .description('write the Acc/Fgt table (mean ± std over seeds), paired differences and per-seed numbers of a grid folder')
    .argument('<dir>', 'grid root')
    .action(async (dir: string) => {
      const { markdown } = writeTables(resolve(dir), collectCdlRuns(resolve(dir)));
      process.stdout.write(`${markdown}\n`);
    });
  kdp
    .command('plot')
    .description('accuracy on seen classes after each task (SVG + PNG) of a grid folder')
    .argument('<dir>', 'grid root')
    .option('--kd <list>', 'KD methods to draw (default: all in the folder)', list)
    .action(async (dir: string, o: { kd?: string[] }) => {
      const files = await writePlots(resolve(dir), collectCdlRuns(resolve(dir)), o.kd ? { methods: o.kd } : {});
      process.stdout.write(`${files.map((f) => `${f} (+ .png)`).join('\n')}\n`);
    });
  return kdp;
}
