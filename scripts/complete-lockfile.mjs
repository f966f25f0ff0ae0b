// Adds lockfile entries for platform-specific optional dependencies that the registry mirror this lockfile was
// made with does not serve (e.g. @rollup/rollup-darwin-x64, @turbo/windows-64). Without them `npm ci` refuses the
// lockfile ("Missing: … from lock file") on every machine. Each entry records only what npm needs to skip the
// package on other platforms: version, os, cpu (and libc), optional. Run after `npm install`:
//   node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const OS = { android: 'android', darwin: 'darwin', freebsd: 'freebsd', linux: 'linux', openbsd: 'openbsd', openharmony: 'openharmony', win32: 'win32', windows: 'win32', sunos: 'sunos', netbsd: 'netbsd', aix: 'aix' };
const CPU = { arm64: 'arm64', arm: 'arm', x64: 'x64', '64': 'x64', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x', mips64el: 'mips64el', 'mips64': 'mips64el' };

function platformOf(name) {
  const base = name.split('/').pop();
  const parts = base.split('-');
  const osIdx = parts.findIndex((p) => p in OS);
  if (osIdx < 0) return undefined;
  const rest = parts.slice(osIdx + 1);
  const cpu = rest.map((p) => CPU[p]).find(Boolean);
  if (!cpu) return undefined;
  const libc = rest.some((p) => /musl/.test(p)) ? 'musl' : OS[parts[osIdx]] === 'linux' && rest.some((p) => /gnu/.test(p)) ? 'glibc' : undefined;
  return { os: OS[parts[osIdx]], cpu, libc };
}

let added = 0;
for (const [path, pkg] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const prefix = path === '' ? '' : `${path}/`;
    const key = `${prefix}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (lock.packages[key] || lock.packages[hoisted]) continue;
    const p = platformOf(dep);
    if (!p) {
      console.warn(`skip ${dep}: cannot tell its platform from the name`);
      continue;
    }
    lock.packages[hoisted] = { version: String(version).replace(/^[\^~=]/, ''), cpu: [p.cpu], ...(p.libc ? { libc: [p.libc] } : {}), optional: true, os: [p.os] };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform entries to package-lock.json`);
