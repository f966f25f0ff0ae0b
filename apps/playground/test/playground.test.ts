import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium, nativePass } from './chromium.js';
import { serveFolder } from './static-server.js';

/**
 * The playground end to end: `vite build` makes the static folder (with small data subsets), a plain static server
 * serves it, and headless Chromium runs `?auto=smoke&backend=webgpu`: pretrain a tiny host and source in the page,
 * KiOP-B (smoke preset) with the progress bar and the Acc.A/Acc.B curves, the prompt image, then classify a
 * Fashion-MNIST test image with and without the prompt. A screenshot of the finished page is kept
 * (PROMPTKD_SCREENSHOT, default <tmp>/promptkd-playground.png).
 */
const missing = chromiumMissing() ?? nativePass();
if (missing) console.log(`playground browser test skipped: ${missing}`);
const app = resolve(import.meta.dirname, '..');

describe.skipIf(missing !== undefined)('playground (built static folder) in headless Chromium', () => {
  let work: string;
  let outDir: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'promptkd-playground-'));
    const data = join(work, 'public', 'data');
    mkdirSync(data, { recursive: true });
    execFileSync(process.execPath, ['--conditions=@promptkd/source', '--import', 'tsx', join(app, 'scripts', 'make-data.ts'), '--train-per-class', '40', '--test-per-class', '10', '--out', data], {
      cwd: app,
      stdio: 'pipe',
    });
    outDir = join(work, 'dist');
    await build({ root: app, configFile: join(app, 'vite.config.ts'), publicDir: join(work, 'public'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs a smoke KiOP-B end to end on webgpu and classifies an image with and without the prompt', async () => {
    const server = await serveFolder(outDir);
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      await page.setViewportSize({ width: 1150, height: 1250 });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}?auto=smoke&backend=webgpu`);
      const shot = process.env.PROMPTKD_SCREENSHOT ?? join(tmpdir(), 'promptkd-playground.png');
      try {
        await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.error !== undefined, undefined, {
          timeout: 1_500_000,
          polling: 2000,
        });
      } catch (e) {
        await page.screenshot({ path: shot, fullPage: true });
        const where = await page.evaluate(() => [document.querySelector('#progress-text')?.textContent, document.querySelector('[data-status="source"]')?.textContent]);
        throw new Error(`the page did not finish (${String(e)}); it was at: ${where.join(' | ')}; screenshot ${shot}`);
      }
      const error = await page.evaluate(() => document.body.dataset.error);
      expect(error, `page error: ${error}; ${errors.join('; ')}`).toBeUndefined();
      const r = (await page.evaluate(() => (window as unknown as { playgroundResult: unknown }).playgroundResult)) as {
        backend: string;
        report: string[];
        final: { accA: number; accB: number };
        epochs: { accA: number; accB: number }[];
        classified: { plain: string; prompted: string; truth: string };
        seconds: number;
      };
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`playground on ${r.backend}: ${r.report.at(-1)}; Acc.A ${r.final.accA}, Acc.B ${r.final.accB} after ${r.epochs.length} epochs; ` +
        `classified '${r.classified.truth}' as '${r.classified.plain}' (host alone) / '${r.classified.prompted}' (with prompt); ${r.seconds.toFixed(0)} s; screenshot ${shot}`);
      expect(r.backend).toBe('webgpu');
      expect(r.epochs).toHaveLength(2); // the smoke preset
      for (const e of r.epochs) for (const v of [e.accA, e.accB]) expect(v >= 0 && v <= 1).toBe(true);
      expect(await page.locator('#progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(1);
      expect(await page.locator('#prompt-img').evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      expect(await page.locator('#plain-top li').count()).toBe(3);
      expect(await page.locator('#prompted-top li').count()).toBe(3);
    } finally {
      await chromium.close();
      await server.close();
    }
  }, 1_600_000);
});
