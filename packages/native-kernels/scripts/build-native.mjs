#!/usr/bin/env node
// Builds promptkd's native kernels (native/*.c, native/*.cc) into native/build/Release/promptkd_native.node with
// the machine's C/C++ compiler: no node-gyp, no Python, no download. Needs only a C and a C++ compiler with OpenMP
// (Debian/Ubuntu: g++). Uses, when their headers and libraries are found:
//   OpenBLAS (Debian: libopenblas-dev) for the GEMMs, else the addon's built-in SGEMM (native/sgemm.c);
//   oneDNN (Debian: libdnnl-dev) for convolutions and batched matmuls, else im2col convolutions.
// PROMPTKD_OPENBLAS=0 / PROMPTKD_ONEDNN=0 build without them; CC / CXX choose the compilers.
//
// Prints ONE line: what was built, or what is missing and the command that adds it. Exits 0 when it cannot build
// (the wasm kernels are then used) unless --strict is given. Writes native/build/status.json, which the loader
// quotes when the addon is missing. --if-needed: do nothing but print the last line when the sources, compilers and
// libraries found are unchanged since the last attempt (npm ci runs this script twice in the repository: the
// package's install script, whose output npm hides, then the root postinstall).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = new Set(process.argv.slice(2));
const strict = args.has('--strict');
const t0 = Date.now();
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const buildDir = join(nativeDir, 'build');
const addonFile = join(buildDir, 'Release', 'promptkd_native.node');
const statusFile = join(buildDir, 'status.json');
const REBUILD = 'npx promptkd-build-native';
const APT_FAST = 'sudo apt-get install libopenblas-dev libdnnl-dev';

/** Writes the status file, prints its one line, exits. */
function finish(status) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(statusFile, `${JSON.stringify(status, null, 2)}\n`);
  (status.built ? console.log : console.error)(status.line);
  process.exit(!status.built && strict ? 1 : 0);
}
const notBuilt = (key, reason, fix) =>
  finish({ built: false, key, reason, fix, line: `promptkd native kernels: not built: ${reason}. Fix: ${fix}. Until then training runs on the slower wasm kernels.` });

const which = (cmd) => spawnSync('sh', ['-c', `command -v "${cmd}"`], { encoding: 'utf8' }).stdout.trim() || undefined;
const firstOf = (...cands) => cands.filter(Boolean).find((c) => which(c.split(' ')[0]));
const cc = firstOf(process.env.CC, 'cc', 'gcc', 'clang');
const cxx = firstOf(process.env.CXX, 'c++', 'g++', 'clang++');

// Node-API headers: the running Node's own (official builds, nvm, NodeSource), else the node-api-headers package.
const req = createRequire(import.meta.url);
const nodeHeaders = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  (() => {
    try {
      return join(dirname(req.resolve('node-api-headers/package.json')), 'include');
    } catch {
      return undefined;
    }
  })(),
].find((d) => d && existsSync(join(d, 'node_api.h')));

const sources = readdirSync(nativeDir)
  .filter((f) => /\.(c|cc)$/.test(f))
  .sort();
const sourceHash = createHash('sha256');
for (const f of readdirSync(nativeDir).filter((f) => /\.(c|cc|h|hh)$/.test(f)).sort()) sourceHash.update(f).update(readFileSync(join(nativeDir, f)));

// Optional libraries, each proved by compiling and linking a one-line program.
const probeDir = join(tmpdir(), `promptkd-native-probe-${process.pid}`);
function links(compiler, code, ext, flags) {
  mkdirSync(probeDir, { recursive: true });
  const src = join(probeDir, `probe.${ext}`);
  writeFileSync(src, code);
  const r = spawnSync(compiler, [src, '-o', join(probeDir, 'probe'), ...flags], { encoding: 'utf8' });
  return r.status === 0;
}
const OPENBLAS_DIRS = ['/usr/include/x86_64-linux-gnu/openblas-pthread', '/usr/include/aarch64-linux-gnu/openblas-pthread', '/usr/include/openblas', '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include'];
let openblas, onednn, openmp;
try {
  openmp = cc && links(cc, 'int main(void){\n#pragma omp parallel\n{}\nreturn 0;}\n', 'c', ['-fopenmp']);
  if (cc && process.env.PROMPTKD_OPENBLAS !== '0') {
    const code = '#include <cblas.h>\nint main(void){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.0f,&a,1,&b,1,0.0f,&c,1);return c!=1;}\n';
    const dirs = [...OPENBLAS_DIRS.filter((d) => existsSync(join(d, 'cblas.h'))), ''];
    const at = dirs.findIndex((d) => links(cc, code, 'c', [...(d ? [`-I${d}`] : []), '-lopenblas']));
    openblas = at < 0 ? undefined : { inc: dirs[at] || undefined };
  }
  if (cxx && process.env.PROMPTKD_ONEDNN !== '0') {
    onednn = links(cxx, '#include <oneapi/dnnl/dnnl.hpp>\nint main(){dnnl::engine e(dnnl::engine::kind::cpu,0);return 0;}\n', 'cc', ['-std=c++17', '-ldnnl']);
  }
} finally {
  rmSync(probeDir, { recursive: true, force: true });
}

const config = { cc, cxx, nodeHeaders, openmp, openblas: Boolean(openblas), openblasInc: openblas?.inc, onednn, sources: sourceHash.digest('hex') };
const key = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);

if (args.has('--if-needed') && existsSync(statusFile)) {
  try {
    const last = JSON.parse(readFileSync(statusFile, 'utf8'));
    if (last.key === key && (!last.built || existsSync(addonFile))) {
      (last.built ? console.log : console.error)(last.built ? `promptkd native kernels: up to date (${last.what}).${last.hint}` : last.line);
      process.exit(!last.built && strict ? 1 : 0);
    }
  } catch {
    // unreadable status: build again
  }
}

if (!cc || !cxx) notBuilt(key, 'no C/C++ compiler found', 'install one (Debian/Ubuntu: sudo apt-get install g++), then run ' + REBUILD);
if (!openmp) notBuilt(key, `${cc} cannot compile OpenMP (-fopenmp)`, `use GCC (CC=gcc CXX=g++ ${REBUILD})`);
if (!nodeHeaders) notBuilt(key, "Node-API headers not found (neither next to node nor the node-api-headers package)", `npm install node-api-headers, then ${REBUILD}`);

const common = ['-O3', '-fPIC', '-fopenmp', '-fvisibility=hidden', '-fno-math-errno', '-fno-trapping-math', '-ffp-contract=fast', '-w', `-I${nodeHeaders}`, '-DNODE_GYP_MODULE_NAME=promptkd_native', '-DBUILDING_NODE_EXTENSION'];
if (openblas) common.push('-DPROMPTKD_HAVE_OPENBLAS', ...(openblas.inc ? [`-I${openblas.inc}`] : []));
if (onednn) common.push('-DPROMPTKD_HAVE_ONEDNN');
const objDir = join(buildDir, 'obj');
rmSync(objDir, { recursive: true, force: true });
mkdirSync(objDir, { recursive: true });
mkdirSync(dirname(addonFile), { recursive: true });

/** Runs a compiler; resolves to its stderr on failure, undefined on success. */
const run = (cmd, argv) =>
  new Promise((res) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => res(String(e)));
    p.on('close', (code) => res(code === 0 ? undefined : err || `exit ${code}`));
  });
const queue = [...sources];
const errors = [];
await Promise.all(
  Array.from({ length: Math.max(1, availableParallelism()) }, async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const isC = f.endsWith('.c');
      const flags = isC ? ['-std=c11'] : ['-std=c++17', '-fexceptions'];
      const err = await run(isC ? cc : cxx, ['-c', join(nativeDir, f), '-o', join(objDir, `${f}.o`), ...common, ...flags]);
      if (err) errors.push(`${f}: ${err.split('\n').find((l) => /error/.test(l)) ?? err.split('\n')[0]}`);
    }
  }),
);
if (errors.length) notBuilt(key, `compiling failed (${errors[0].replaceAll(`${nativeDir}/`, "")})`, `report it with the compiler output of ${REBUILD}`);
const tmpAddon = `${addonFile}.${process.pid}.tmp`;
const linkFlags = ['-shared', '-fopenmp', ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []), ...(openblas ? ['-lopenblas'] : []), ...(onednn ? ['-ldnnl'] : [])];
const linkErr = await run(cxx, ['-o', tmpAddon, ...sources.map((f) => join(objDir, `${f}.o`)), ...linkFlags]);
if (linkErr) notBuilt(key, `linking failed (${linkErr.split('\n')[0]})`, `report it with the linker output of ${REBUILD}`);
renameSync(tmpAddon, addonFile);
rmSync(objDir, { recursive: true, force: true });

const gemm = openblas ? 'OpenBLAS' : 'built-in SGEMM';
const convs = onednn ? 'oneDNN' : 'im2col';
const faster = openblas && onednn ? '' : ` For the faster OpenBLAS/oneDNN engines: ${APT_FAST}, then ${REBUILD}.`;
const what = `GEMM: ${gemm}; convolutions: ${convs}`;
finish({
  built: true,
  key,
  file: addonFile,
  engines: [...(onednn ? ['onednn'] : []), ...(openblas ? ['openblas'] : []), 'builtin'],
  what,
  hint: faster,
  line: `promptkd native kernels: built in ${((Date.now() - t0) / 1000).toFixed(0)} s (${what}).${faster}`,
});
