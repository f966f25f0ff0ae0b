#!/usr/bin/env node
// Runs the TypeScript CLI from sources (apps are not built): tsx + the workspace's source condition.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/promptkd.ts', import.meta.url));
// tsx resolved from this file, so the command works from any directory
const tsx = import.meta.resolve('tsx');
const child = spawn(process.execPath, ['--conditions=@promptkd/source', '--import', tsx, entry, ...process.argv.slice(2)], { stdio: 'inherit' });
// A process manager signals this process only: pass the signal on and exit when the command does (a long-running
// `promptkd serve` shuts down cleanly instead of being left behind).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
