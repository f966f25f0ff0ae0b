#!/usr/bin/env node
// Runs the TypeScript CLI from sources (apps are not built): tsx + the workspace's source condition.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/promptkd.ts', import.meta.url));
const r = spawnSync(process.execPath, ['--conditions=@promptkd/source', '--import', 'tsx', entry, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
