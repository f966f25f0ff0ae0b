import type { Options } from 'tsup';

/** Shared tsup settings for every library package: ESM + d.ts, tfjs kept external. */
export const libraryBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: [/^@tensorflow\//, /^@promptkd\//],
};
