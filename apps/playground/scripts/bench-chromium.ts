// Opens the built bench page (apps/playground/dist/bench.html, from `npm run build -w apps/playground`) in headless
// Chromium and prints its table. On a machine without a GPU, WebGPU and WebGL run on SwiftShader (a CPU emulation):
// those numbers only show that the backends run, not how fast a GPU is.
// Usage: node --import tsx apps/playground/scripts/bench-chromium.ts [steps] [backends]
import { cpus } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../test/chromium.js';
import { serveFolder } from '../test/static-server.js';

const steps = process.argv[2] ?? '3';
const backends = process.argv[3] ?? 'webgpu,webgl,wasm,cpu';
const server = await serveFolder(join(import.meta.dirname, '..', 'dist'));
const chromium = await launchChromium();
try {
  const page = await chromium.context.newPage();
  await page.goto(`${server.url}bench.html?auto&steps=${steps}&backends=${backends}`);
  await page.waitForFunction(() => document.body.dataset.state === 'done', undefined, { timeout: 1_800_000, polling: 2000 });
  const rows = (await page.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as Record<
    string,
    { report: string; smallCnn?: number; kiopPrompt?: number; error?: string }
  >;
  console.log(`CPU: ${cpus()[0]?.model} ×${cpus().length}; ${await page.evaluate(() => navigator.userAgent)}`);
  console.log('| backend | small-cnn ms/step | KiOP prompt ms/step | report |');
  console.log('| --- | --- | --- | --- |');
  for (const [b, r] of Object.entries(rows)) {
    console.log(`| ${b} | ${r.smallCnn?.toFixed(1) ?? '–'} | ${r.kiopPrompt?.toFixed(1) ?? '–'} | ${r.error ? `skipped: ${r.error}` : r.report} |`);
  }
} finally {
  await chromium.close();
  await server.close();
}
