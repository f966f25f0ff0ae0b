import { resolve } from 'node:path';
import { claimThresholds, collectCells, writeReport } from './report.js';
import { checkDataAvailable, gridCells, pretrainModels, runCells } from './commands.js';
import { prepareParticipant } from '@promptkd/kiop/node';
import { cellArgs, resolveCell, type PresetName } from './cells.js';
import { serveCommandLine, servedLine } from './serve-hints.js';

/** The demo's cells: the paper's four methods and the real-data reference (not part of KiOP). */
export const DEMO_VARIANTS = ['vanillaKd', 'kiopT', 'kiopB', 'kiopBF', 'realDataRef'] as const;

/**
 * The README's main job: host = small BN CNN on MNIST, source = small BN CNN on Fashion-MNIST (offline data);
 * pretrain both (cached), run Vanilla-KD, KiOP-T, KiOP-B and KiOP-BF at demo scale, plus the real-data reference
 * (the same prompt and budget trained on real source images: what the data-free synthesis costs), print the table
 * and where the run folders, curves and prompt images are.
 */
export async function demo(options: { out: string; jobs: number; pairs: string[]; seed: number; preset?: PresetName }): Promise<void> {
  const t0 = performance.now();
  const root = resolve(options.out);
  const preset = options.preset ?? 'demo';
  const cells = gridCells(options.pairs, [...DEMO_VARIANTS], [options.seed], preset);
  // Pretrain every model once, in parallel child processes, so the parallel cells find them cached; then load them
  // here for their weight files.
  const { bench } = resolveCell(cells[0]!);
  const datasets = [...new Set(cells.flatMap((c) => [c.host, ...c.sources]))];
  await checkDataAvailable(datasets);
  await pretrainModels(datasets, preset, options.jobs);
  const weights = new Map<string, string>();
  for (const ds of datasets) {
    const p = await prepareParticipant({ dataset: ds, preset: bench, seed: 0 });
    weights.set(ds, p.weights);
    p.model.dispose();
  }
  process.stderr.write(`running ${cells.length} cells, ${options.jobs} at a time (one process each)\n`);
  const outcomes = await runCells(cells, root, options.jobs);
  const found = collectCells(root);
  const { markdown } = await writeReport(root, found, { title: `KiOP demo (${options.pairs.join(', ')}; ${preset} preset)`, claims: claimThresholds[preset] });
  const minutes = (performance.now() - t0) / 60000;
  process.stdout.write(`\n${markdown}\n`);
  const served = found.filter((c) => c.results.served);
  if (served.length) {
    process.stdout.write('\nhost BN on batch statistics: accuracy as the server runs each prompt (host BN in eval mode on the prompt\'s own statistics)\n');
    for (const c of served) process.stdout.write(`  ${c.pair} ${c.variant} s${c.seed}: ${servedLine(c.results)}\n`);
  }
  process.stdout.write(`\nrun folders:    ${root}/<host>__<source>/<variant>__s<seed>/ (metrics.jsonl, results.json, checkpoints/)\n`);
  process.stdout.write(`tables:         ${root}/kiop-results.md, kiop-claims.md (+ .csv)\n`);
  process.stdout.write(`curves:         ${root}/curves-<pair>.svg|png\n`);
  process.stdout.write(`prompt images:  ${root}/<pair>/<variant>__s${options.seed}/figures/prompt.png\n`);
  process.stdout.write(`one cell again: promptkd ${cellArgs(cells[0]!, root).join(' ')}\n`);
  process.stdout.write(`serve prompts:  ${serveCommandLine(weights.get(cells[0]!.host)!, root)}\n`);
  process.stdout.write(`wall time:      ${minutes.toFixed(1)} min\n`);
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length) throw new Error(`${failed.length} demo cell(s) failed: ${failed.map((f) => f.cell.id).join(', ')}`);
}
