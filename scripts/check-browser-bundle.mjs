// Checks that no `node:` import (nor a bare Node built-in such as 'fs') reaches a browser bundle of promptkd's
// browser-capable library packages: esbuild bundles each package's main entry with platform=browser and fails on the
// first Node import, naming the file that made it. Run by `npm run build` on the built packages (dist/, what users
// get); `--source` bundles the TypeScript sources instead (the `@promptkd/source` condition; used by the tests).
// Usage: node scripts/check-browser-bundle.mjs [--source]
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

/** Library packages that must work in a browser (the Node-only parts of each sit behind its `/node` entry). */
export const BROWSER_PACKAGES = [
  'core', 'tfjs-env', 'models', 'datasets', 'visual-prompt', 'label-mapping', 'kd-losses', 'data-free', 'kiop',
  'continual', 'kdp',
];

const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')));

/** esbuild plugin: turns every Node built-in import into an error that names the importer. */
const noNodeImports = {
  name: 'no-node-imports',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.replace(/^node:/, '').split('/')[0];
      if (args.path.startsWith('node:') || (args.kind !== 'entry-point' && NODE_BUILTINS.has(bare) && !args.path.startsWith('.'))) {
        return { errors: [{ text: `Node import '${args.path}' in a browser bundle (imported by ${args.importer})` }] };
      }
      return undefined;
    });
  },
};

/**
 * Bundles every package in `packages` for the browser; returns one line per package and the failures.
 * @param {{ source?: boolean, root?: string, packages?: string[] }} options
 */
export async function checkBrowserBundles(options = {}) {
  const root = options.root ?? resolve(import.meta.dirname, '..');
  const lines = [];
  const failures = [];
  for (const pkg of options.packages ?? BROWSER_PACKAGES) {
    const name = `@promptkd/${pkg}`;
    try {
      const result = await esbuild.build({
        stdin: { contents: `export * from '${name}';`, resolveDir: root, loader: 'js' },
        bundle: true,
        write: false,
        platform: 'browser',
        format: 'esm',
        conditions: options.source ? ['@promptkd/source'] : [],
        external: ['@tensorflow/*'],
        plugins: [noNodeImports],
        logLevel: 'silent',
        metafile: true,
      });
      const bytes = result.outputFiles[0].contents.length;
      lines.push(`ok   ${name} (${Object.keys(result.metafile.inputs).length} files, ${(bytes / 1024).toFixed(0)} KiB)`);
    } catch (e) {
      const errors = (e.errors ?? [{ text: String(e) }]).map((x) => `  ${x.text}${x.location ? ` at ${x.location.file}:${x.location.line}` : ''}`);
      failures.push(`${name}\n${errors.join('\n')}`);
      lines.push(`FAIL ${name}\n${errors.join('\n')}`);
    }
  }
  return { lines, failures };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const source = process.argv.includes('--source');
  const { lines, failures } = await checkBrowserBundles({ source });
  for (const l of lines) console.log(l);
  if (failures.length) {
    console.error(`${failures.length} package(s) pull Node built-ins into a browser bundle`);
    process.exit(1);
  }
  console.log(`browser bundles: no Node import in ${lines.length} packages (${source ? 'sources' : 'dist'})`);
}
