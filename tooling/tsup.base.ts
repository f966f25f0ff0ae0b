import { existsSync } from 'node:fs';
import type { Options } from 'tsup';

/**
 * Shared tsup settings for every library package: ESM + d.ts, tfjs kept external. `src/index.ts` is the main entry
 * (browser-safe); a package with Node-only parts (files, caches) also builds `src/node.ts` (`@promptkd/<pkg>/node`,
 * and the main entry under the `node` condition), and one with a browser variant builds `src/browser.ts`.
 */
export const libraryBuild: Options = {
  entry: ['src/index.ts', 'src/node.ts', 'src/browser.ts'].filter((f) => existsSync(f)),
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: [/^@tensorflow\//, /^@promptkd\//],
};
