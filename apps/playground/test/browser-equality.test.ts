import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingKernelsFor } from '@promptkd/tfjs-env';
import { runCases, type CaseValues } from './browser-cases.js';
import { chromiumMissing, nativePass } from './chromium.js';
import { openHarness, type Harness } from './harness.js';

/**
 * The packages in a browser: the cases of browser-cases.ts, bundled with esbuild for the browser and run in headless
 * Chromium on webgpu, webgl and wasm (SwiftShader: no GPU needed), equal the Node cpu backend's values within float32
 * tolerance.
 */
const missing = chromiumMissing() ?? nativePass();
if (missing) console.log(`browser equality tests skipped: ${missing}`);

/** |browser − node| ≤ atol + rtol·|node| per element (float32 and a different summation order per backend). */
const ATOL = 2e-4;
const RTOL = 2e-3;

function compare(browser: CaseValues, node: CaseValues): string[] {
  const problems: string[] = [];
  expect(Object.keys(browser).sort()).toEqual(Object.keys(node).sort());
  for (const [name, ref] of Object.entries(node)) {
    const got = browser[name] ?? [];
    if (got.length !== ref.length) {
      problems.push(`${name}: ${got.length} values, node has ${ref.length}`);
      continue;
    }
    let worst = 0;
    let at = -1;
    ref.forEach((r, i) => {
      const excess = Math.abs((got[i] as number) - r) - (ATOL + RTOL * Math.abs(r));
      if (!(excess <= worst)) {
        worst = Number.isNaN(excess) ? Infinity : excess;
        at = i;
      }
    });
    if (at >= 0) problems.push(`${name}[${at}]: browser ${got[at]} vs node ${ref[at]}`);
  }
  return problems;
}

describe.skipIf(missing !== undefined)('the packages in headless Chromium equal the Node cpu backend', () => {
  let harness: Harness;
  let reference: CaseValues;

  beforeAll(async () => {
    const previous = tf.getBackend();
    await tf.setBackend('cpu');
    registerTrainingKernelsFor('cpu');
    try {
      const { values, leaked } = await runCases();
      expect(leaked).toBe(0);
      reference = values;
    } finally {
      await tf.setBackend(previous);
    }
    harness = await openHarness(new URL('./browser-cases-page.ts', import.meta.url).pathname);
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  for (const backend of ['webgpu', 'webgl', 'wasm'] as const) {
    it(`on ${backend}: prompt forward + gradient, every KD loss, a CMI iteration, a KiOP-B step, a CODA-P step`, async () => {
      const result = (await harness.run(backend)) as { backend: string; values: CaseValues; leaked: number };
      expect(result.backend).toBe(backend);
      expect(result.leaked).toBe(0);
      expect(compare(result.values, reference)).toEqual([]);
    }, 900_000);
  }
});
