import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIdx } from './idx-fixture.js';

// A smoke KDP cell (KDP and DeiT sharing one teacher, 3 tasks) is SIGKILLed inside task 1 of KDP, after the
// checkpoints of task 0, resumed with the same command, and must end with exactly the numbers of an
// uninterrupted run; the resumed process starts KDP at task 1 and does not retrain the teacher's task 0.
const cli = fileURLToPath(new URL('../../cli/src/promptkd.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'promptkd-kdp-kill-'));
writeIdx(work, 'train', 20);
writeIdx(work, 't10k', 4);
const env = { ...process.env, PROMPTKD_MODELS: join(work, 'models'), PROMPTKD_BACKEND: 'wasm', PROMPTKD_PROGRESS: 'silent' };
const args = (out: string) => [
  'kdp', 'run', '--preset', 'smoke', '--data-root', work, '--split', '3x2', '--cl', 'coda', '--kd', 'kdp,deit', '--seed', '3',
  '--set', 'training.epochs=6', '--set', 'data.trainPerClass=16', '--out', out,
];
const runDir = (out: string, who: string) => join(out, 'fashionMnist-3x2-t24-s16', 'coda', `${who}__s3`);

function start(out: string): ChildProcess {
  return fork(cli, args(out), { execArgv: ['--conditions=@promptkd/source', '--import', 'tsx'], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
}

function finish(child: ChildProcess): Promise<number | null> {
  let err = '';
  child.stderr?.on('data', (d) => (err += String(d)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 || signal === 'SIGKILL' ? resolve(code) : reject(new Error(`exit ${code ?? signal}\n${err.slice(-2000)}`))));
  });
}

const results = (out: string, kd: string) => JSON.parse(readFileSync(join(runDir(out, kd), 'results.json'), 'utf8')).results;
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const checkpoints = (dir: string) => (existsSync(join(dir, 'checkpoints')) ? readdirSync(join(dir, 'checkpoints')).filter((f) => /^ckpt-.*\.json$/.test(f)) : []);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('kill and resume a KDP cell', () => {
  it('resumes a cell SIGKILLed mid-task to the same numbers as an uninterrupted one, per task, without retraining the teacher', async () => {
    const straight = join(work, 'straight');
    await finish(start(straight)); // also pretrains and caches the smoke backbones for the next runs

    const killed = join(work, 'killed');
    const child = start(killed);
    const done = finish(child);
    // wait for KDP's checkpoint of task 0, then kill: the process is inside task 1 (teacher or student)
    for (let i = 0; i < 6000 && checkpoints(runDir(killed, 'kdp')).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await done).toBe(null);
    expect(existsSync(join(runDir(killed, 'kdp'), 'results.json'))).toBe(false);
    expect(checkpoints(runDir(killed, 'teacher')).length).toBeGreaterThanOrEqual(1); // the teacher saved task 0

    await finish(start(killed)); // same command: resumes from the last good checkpoints
    for (const kd of ['kdp', 'deit']) {
      const a = results(straight, kd);
      const b = results(killed, kd);
      const strip = (r: { seconds: number }) => ({ ...r, seconds: undefined });
      expect(strip(b.student), kd).toEqual(strip(a.student)); // accuracy matrix, heads, within-task, losses: bit for bit
      expect(strip(b.teacher), kd).toEqual(strip(a.teacher));
    }
    // KDP continued at task ≥ 1 and the teacher at the task after its last checkpoint: neither started over
    const kdpEvents = metrics(runDir(killed, 'kdp'));
    const resumed = kdpEvents.filter((e) => e.event === 'resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0].fromEpoch).toBeGreaterThanOrEqual(1);
    expect(kdpEvents.filter((e) => e.epoch === 0 && e.event === undefined)).toHaveLength(1);
    const teacherEvents = metrics(runDir(killed, 'teacher'));
    const teacherResumed = teacherEvents.filter((e) => e.event === 'resumed');
    expect(teacherResumed).toHaveLength(1);
    expect(teacherResumed[0].fromEpoch).toBeGreaterThanOrEqual(1);
    expect(teacherEvents.filter((e) => e.epoch === 0 && e.event === undefined)).toHaveLength(1);
  }, 600_000);
});
