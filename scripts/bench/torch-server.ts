/**
 * A PyTorch process (`torch_bench.py --serve`) that runs one step per request, so that the bench can alternate our
 * steps with PyTorch's: on a shared machine whose speed drifts within minutes, both then see the same load.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { torchEnv } from './torch-env.js';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A workload as PyTorch built it (the fields of torch_bench.py's batch output, without times). */
export interface TorchSetup {
  batch?: number;
  params_trainable?: number;
  params_frozen?: number;
  fwd_gflop?: number;
  step_gflop?: number;
  flops_rule?: string;
  n?: number;
}

export class TorchServer {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly waiting: Array<(line: string) => void> = [];
  private exited: string | undefined;

  constructor(threads: number) {
    const script = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
    this.child = spawn('python3', [script, '--serve', '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'], env: torchEnv() });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.child.on('exit', (code, signal) => {
      this.exited = `torch_bench.py --serve exited (${code ?? signal})`;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: this.exited }));
    });
  }

  private async request<T>(req: object): Promise<T> {
    if (this.exited) throw new Error(this.exited);
    const line = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
    const res = JSON.parse(line) as T & { error?: string };
    if (res.error) throw new Error(res.error);
    return res;
  }

  /**
   * Builds workload `model` (or an n×n matmul when `model` is 'matmul'), from `spec` when given (the study workloads
   * send their preset-derived shapes); PyTorch's FLOPs and parameter counts.
   */
  setup(model: string, opts: { batch?: number; n?: number; spec?: Record<string, unknown> } = {}): Promise<TorchSetup> {
    return this.request<TorchSetup>({ op: 'setup', model, batch: opts.batch ?? null, n: opts.n, spec: opts.spec ?? null });
  }

  /** Runs `steps` steps of the current workload in a row; milliseconds per step (timed in Python) and the last loss. */
  step(steps = 1): Promise<{ ms: number; loss: number | null }> {
    return this.request({ op: 'step', steps });
  }

  /** PyTorch's RSS high-water mark (MiB) since the last `setup` (which resets it on Linux). */
  memory(): Promise<{ rss_peak_mib: number }> {
    return this.request({ op: 'memory' });
  }

  close(): void {
    if (!this.exited) this.child.stdin.end(`${JSON.stringify({ op: 'quit' })}\n`);
  }
}
