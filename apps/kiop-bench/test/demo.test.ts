import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The README's main job, end to end at the smoke preset: pretrain + cache both models, four variants in two
// child processes, the Table-1 layout, curves and prompt images; a second run reuses the cached models and cells.
const bin = fileURLToPath(new URL('../../cli/bin/promptkd.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'promptkd-demo-'));
const env = { ...process.env, PROMPTKD_MODELS: join(work, 'models'), PROMPTKD_BACKEND: 'wasm', PROMPTKD_PROGRESS: 'silent' };
const out = join(work, 'runs');
const run = () => spawnSync(process.execPath, [bin, 'demo', '--preset', 'smoke', '--jobs', '2', '--out', out], { env, encoding: 'utf8' });

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('promptkd demo (smoke preset)', () => {
  it('runs every variant and writes the table, curves and prompt images; a second run reuses the cache', () => {
    const first = run();
    expect(first.status, first.stderr.slice(-3000)).toBe(0);
    for (const method of ['Vanilla-KD', 'KiOP-T', 'KiOP-B', 'KiOP-BF', 'real-data ref\\. \\(not KiOP\\)']) expect(first.stdout).toMatch(new RegExp(`\\| ${method} +\\|`));
    expect(first.stdout).toMatch(/wall time: +\d+\.\d min/);
    expect(first.stdout).toMatch(/serve prompts: +promptkd serve --host \S+\.safetensors --prompts \S+/);
    // both models pretrained in parallel child processes, each reporting its clean accuracy
    expect(first.stderr).toMatch(/pretraining mnist/);
    expect(first.stderr).toMatch(/pretraining fashionMnist/);
    expect(first.stderr).toMatch(/fashionMnist: \d+ train \/ \d+ test images, clean accuracy \d+\.\d\d%/);
    expect(existsSync(join(out, 'mnist__fashionMnist', 'kiopB__s0', 'figures', 'bank-B.png'))).toBe(true);
    expect(existsSync(join(out, 'kiop-results.md'))).toBe(true);
    expect(existsSync(join(out, 'kiop-claims.md'))).toBe(true); // K1–K3 with a verdict each
    expect(existsSync(join(out, 'kiop-results.csv'))).toBe(true);
    expect(existsSync(join(out, 'curves-mnist__fashionMnist.png'))).toBe(true);
    for (const v of ['kiopT', 'kiopB', 'kiopBF']) expect(existsSync(join(out, 'mnist__fashionMnist', `${v}__s0`, 'figures', 'prompt.png'))).toBe(true);
    const csv = readFileSync(join(out, 'kiop-results.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(6);
    // the diagnostics columns: filled for a data-free variant, empty for the real-data reference (no synthesis)
    const header = csv[0]!.split(',');
    const row = (label: string) => csv.find((l) => l.includes(label))!.split(',');
    const col = (name: string) => header.indexOf(name);
    expect(col('synth. target agr. %')).toBeGreaterThan(0);
    const kiopB = row('KiOP-B,');
    expect(Number(kiopB[col('synth. target agr. %')])).toBeGreaterThanOrEqual(0);
    expect(kiopB[col('bank agr. %')]).toMatch(/^\d+\.\d\d$/);
    expect(kiopB[col('bank/class')]).toMatch(/^\d+–\d+$/);
    expect(row('real-data ref.')[col('synth. target agr. %')]).toBe('');

    const second = run();
    expect(second.status, second.stderr.slice(-3000)).toBe(0);
    expect(second.stderr).toMatch(/loaded cached mnist/);
    expect(second.stderr).not.toMatch(/pretraining/);
    expect(second.stdout).toContain(first.stdout.split('\n').find((l) => l.includes('| KiOP-BF'))!);
  }, 600_000);
});
