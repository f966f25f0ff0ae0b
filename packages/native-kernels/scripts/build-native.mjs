#!/usr/bin/env node
// Builds the optional native kernels (native/kernels.c) with node-gyp against this Node's own headers.
// Needs a C compiler and OpenBLAS headers (Debian: apt-get install build-essential libopenblas-dev); with oneDNN's
// headers (Debian: libdnnl-dev) the convolutions run on oneDNN (PROMPTKD_ONEDNN=0 builds without it).
// Exits 0 with a notice when they are missing, unless --strict is given: the wasm kernels then stay in use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const fail = (msg) => {
  console.error(`promptkd native kernels not built: ${msg}`);
  process.exit(strict ? 1 : 0);
};

const headers = ['/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/openblas/cblas.h', '/usr/include/cblas.h'];
if (!headers.some((h) => existsSync(h))) fail('no OpenBLAS headers found (Debian/Ubuntu: apt-get install libopenblas-dev).');

// node-gyp: the copy bundled with npm, else a local one.
let gyp;
const npmGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
if (existsSync(npmGyp)) gyp = npmGyp;
else {
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    fail('node-gyp not found (it ships with npm; or npm install -g node-gyp).');
  }
}
// Build against the running Node's headers when they are installed next to it (no download).
const prefix = join(dirname(process.execPath), '..');
const args = [gyp, 'rebuild'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const res = spawnSync(process.execPath, args, { cwd: nativeDir, stdio: 'inherit' });
if (res.status !== 0) fail(`node-gyp exited with ${res.status ?? res.signal}.`);
const onednn = process.env.PROMPTKD_ONEDNN !== '0' && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
console.log(
  `promptkd native kernels built: ${join(nativeDir, 'build', 'Release', 'promptkd_native.node')} ` +
    `(convolutions: ${onednn ? 'oneDNN' : 'im2col + OpenBLAS; apt-get install libdnnl-dev and rebuild for oneDNN'})`,
);
