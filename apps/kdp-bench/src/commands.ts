import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { runGrid, shareCoresAmongJobs } from '@promptkd/experiments';
import { QUEUE_OPTION_FLAGS, wantsQueue } from '@promptkd/grid-bullmq';
import { collectCdlRuns, kdMethodRegistry } from '@promptkd/kdp/node';
import { PRESET_NAMES, resolvePresetConfig, type PresetName } from './bench-presets.js';
import { BACKBONE_NAMES, cellId, prepareBackbones, resolveCell, runCellInChild, runOneCell, type KdpCellSpec } from './cells.js';
import { runKdpGridOnQueue } from './grid-queue.js';
import { writePlots, writeTables } from './report.js';

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${v}`);
  return n;
};
const collect = (v: string, prev: string[]) => [...prev, v];
const log = (l: string) => process.stderr.write(`${l}\n`);

/** Options shared by `run` and `grid`. */
function common(cmd: Command, defaults: { preset: PresetName }): Command {
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

function specOf(o: Record<string, unknown>, extra: { split?: string; cl: string; kd: string[]; seed: number }): KdpCellSpec {
  return {
    preset: o.preset as PresetName,
    ...(extra.split ? { split: extra.split } : {}),
    ...(o.dataset ? { dataset: o.dataset as string } : {}),
    ...(o.dataRoot ? { dataRoot: resolve(o.dataRoot as string) } : {}),
    cl: extra.cl,
    kd: extra.kd,
    seed: extra.seed,
    ...(o.teacher !== 'preset' ? { teacher: o.teacher as string } : {}),
    ...(o.student !== 'preset' ? { student: o.student as string } : {}),
    ...(o.teacherWeights ? { teacherWeights: resolve(o.teacherWeights as string) } : {}),
    ...(o.studentWeights ? { studentWeights: resolve(o.studentWeights as string) } : {}),
    ...((o.set as string[]).length ? { set: o.set as string[] } : {}),
  };
}

/** Writes tables and figures of a grid root; returns the tables as markdown. */
export async function report(root: string): Promise<string> {
  const cells = collectCdlRuns(root);
  const { markdown } = writeTables(root, cells);
  await writePlots(root, cells);
  return markdown;
}

/**
 * Runs a grid: splits × CL methods × seeds, each group (one teacher run shared by its KD methods) in a child
 * process, `jobs` at a time. KD runs with results are skipped (resume); groups with nothing left are not started.
 */
export async function runKdpGrid(options: {
  base: Record<string, unknown>;
  splits: readonly string[];
  cls: readonly string[];
  kds: readonly string[];
  seeds: readonly number[];
  root: string;
  jobs: number;
}) {
  const { base, splits, cls, kds, seeds, root, jobs } = options;
  for (const split of splits) {
    // Pretrain (or load) the backbones once here, so the parallel cells find them cached.
    await prepareBackbones(specOf(base, { split, cl: cls[0] as string, kd: [...kds], seed: 0 }), log);
  }
  const groups: KdpCellSpec[] = [];
  for (const seed of seeds) {
    for (const split of splits) {
      for (const cl of cls) {
        const spec = specOf(base, { split, cl, kd: [...kds], seed });
        const preset = resolveCell(spec);
        const missing = kds.filter((kd) => !existsSync(join(root, ...cellId(preset, cl, kd, seed).split('/'), 'results.json')));
        if (missing.length) groups.push({ ...spec, kd: missing });
      }
    }
  }
  log(`${groups.length} group(s) to run (${groups.reduce((s, g) => s + g.kd.length, 0)} KD runs), ${jobs} at a time`);
  shareCoresAmongJobs(jobs);
  return runGrid(
    groups.map((g, i) => ({ id: `g${i}`, config: g })),
    async (cell) => {
      const t0 = performance.now();
      await runCellInChild(cell.config, root);
      log(`done: ${cell.config.split ?? ''} ${cell.config.cl} s${cell.config.seed} [${cell.config.kd.join(',')}] in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
      return cell.id;
    },
    { concurrency: jobs, continueOnError: true },
  );
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
      const spec = specOf(o, { ...(o.split ? { split: o.split } : {}), cl: o.cl, kd: o.kd, seed: o.seed });
      resolveCell(spec); // unknown dataset, split, CL/KD method or --set field: said before any work
      await init();
      const results = await runOneCell(spec, resolve(o.out));
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
    const preset = resolvePresetConfig(o.preset as string, { set: o.set as string[] });
    o.splits ??= [`${preset.data.numTasks}x${preset.data.classesPerTask}`];
    o.seeds ??= [...preset.seeds];
    // validate every cell before any work (and before anything is enqueued)
    for (const split of o.splits as string[]) for (const cl of o.cl as string[]) resolveCell(specOf(o, { split, cl, kd: o.kd, seed: 0 }));
    const t0 = performance.now();
    const root = resolve(o.out);
    let outcomes;
    if (wantsQueue(o)) {
      const groups = (o.seeds as number[]).flatMap((seed) =>
        (o.splits as string[]).flatMap((split) => (o.cl as string[]).map((cl) => specOf(o, { split, cl, kd: [...(o.kd as string[])], seed }))),
      );
      outcomes = await runKdpGridOnQueue(groups, root, o, log);
      if (!outcomes) return;
    } else {
      await init();
      outcomes = await runKdpGrid({ base: o, splits: o.splits, cls: o.cl, kds: o.kd, seeds: o.seeds, root, jobs: o.jobs });
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
