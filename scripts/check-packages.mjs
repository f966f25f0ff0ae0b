// Checks every publishable library package the way a user receives it:
//   1. publint --strict and attw (types resolve for ESM consumers) on the built package;
//   2. `npm pack` each package, install all tarballs into an empty project OUTSIDE the workspace,
//      and run a short example there that imports every package and trains one step on wasm.
// Needs `npm run build` first. Usage: node scripts/check-packages.mjs [--skip-lint] [--keep]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = new Set(process.argv.slice(2));
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const run = (cmd, argv, cwd) => execFileSync(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

const pkgs = readdirSync(join(root, 'packages'))
  .map((d) => ({ dir: join(root, 'packages', d), json: JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')) }))
  .filter((p) => !p.json.private)
  .filter((p) => !onlyArg || onlyArg.split(',').includes(p.json.name.replace('@promptkd/', '')));

let failures = 0;
const fail = (msg) => { failures++; console.error(`FAIL ${msg}`); };

for (const p of pkgs) {
  if (!existsSync(join(p.dir, 'dist', 'index.js'))) { fail(`${p.json.name}: no dist/ — run npm run build first`); continue; }
  if (args.has('--skip-lint')) continue;
  try { run('npx', ['publint', '--strict'], p.dir); console.log(`ok   publint ${p.json.name}`); }
  catch (e) { fail(`publint ${p.json.name}\n${e.stdout}${e.stderr}`); }
  try { run('npx', ['attw', '--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped'], p.dir); console.log(`ok   attw    ${p.json.name}`); }
  catch (e) { fail(`attw ${p.json.name}\n${e.stdout}${e.stderr}`); }
}

const work = mkdtempSync(join(tmpdir(), 'promptkd-packcheck-'));
try {
  const tarballs = pkgs.map((p) => {
    const out = run('npm', ['pack', '--silent', '--pack-destination', work], p.dir).trim().split('\n').pop();
    return join(work, out);
  });
  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'packcheck-app', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '@tensorflow/tfjs@4.22.0', '@tensorflow/tfjs-backend-wasm@4.22.0', ...tarballs], app);
  const names = pkgs.map((p) => p.json.name);
  const example = [
    "import * as tf from '@tensorflow/tfjs';",
    "import { initBackend } from '@promptkd/tfjs-env';",
    ...names.map((n, i) => `import * as m${i} from '${n}';`),
    "const choice = await initBackend({ backend: 'wasm' });",
    `const mods = { ${names.map((n, i) => `'${n}': m${i}`).join(', ')} };`,
    "for (const [n, m] of Object.entries(mods)) if (Object.keys(m).length === 0) throw new Error(n + ' exports nothing');",
    '// one training step of a conv layer on wasm (needs the registered Conv2DBackpropFilter)',
    'const w = tf.variable(tf.randomNormal([3, 3, 3, 4], 0, 0.1, "float32", 1));',
    'const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 2);',
    'const opt = tf.train.sgd(0.1);',
    'const loss = () => tf.conv2d(x, w, 1, "same").square().mean();',
    'const before = loss().dataSync()[0]; opt.minimize(loss); const after = loss().dataSync()[0];',
    "if (!(after < before)) throw new Error('conv step did not reduce the loss');",
    "console.log(`packed install ok: ${Object.keys(mods).length} packages on ${choice.backend}`);",
  ].join('\n');
  writeFileSync(join(app, 'example.mjs'), example);
  console.log(run('node', ['example.mjs'], app).trim());
} catch (e) {
  fail(`packed install: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
} finally {
  if (!args.has('--keep')) rmSync(work, { recursive: true, force: true });
}
if (failures) { console.error(`${failures} package check(s) failed`); process.exit(1); }
console.log('all package checks passed');
