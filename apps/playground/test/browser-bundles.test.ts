import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without type declarations
import { BROWSER_PACKAGES, checkBrowserBundles } from '../../../scripts/check-browser-bundle.mjs';

describe('browser bundles', () => {
  it('no node: import (nor a bare Node built-in) reaches a browser bundle of any browser-capable library (sources)', async () => {
    const { lines, failures } = (await checkBrowserBundles({ source: true })) as { lines: string[]; failures: string[] };
    expect(failures).toEqual([]);
    expect(lines).toHaveLength((BROWSER_PACKAGES as string[]).length);
  });

  it('the check catches a Node import', async () => {
    const { failures } = (await checkBrowserBundles({ source: true, packages: ['experiments'] })) as { failures: string[] };
    expect(failures.join('\n')).toMatch(/Node import 'node:/);
  });
});
