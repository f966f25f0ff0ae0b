import { fork } from 'node:child_process';
import { PromptKdError, type PromptKdErrorJson } from '@promptkd/core';

/** The message a child process sends its parent before it exits with a promptkd error (see {@link reportErrorToParent}). */
interface ErrorMessage {
  readonly type: 'promptkd-error';
  readonly error: PromptKdErrorJson;
}

const isErrorMessage = (m: unknown): m is ErrorMessage =>
  typeof m === 'object' && m !== null && (m as ErrorMessage).type === 'promptkd-error' && typeof (m as ErrorMessage).error?.code === 'string';

/**
 * In a child process started by {@link runCellInChild}: sends a promptkd error to the parent (over the IPC
 * channel), so the parent rethrows it with its class, code and details. Resolves once it is sent; does nothing
 * (and resolves) without a parent or for other errors.
 */
export function reportErrorToParent(error: unknown): Promise<void> {
  if (!process.send || !PromptKdError.isInstance(error)) return Promise.resolve();
  const message: ErrorMessage = { type: 'promptkd-error', error: error.toJSON() };
  return new Promise((resolve) => {
    try {
      process.send?.(message, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}

/** The last error line a failed child printed (`error (E_…): …` from the CLI, or a thrown `…Error: …`). */
export function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return [...lines].reverse().find((l) => /^error \(E_[A-Z_]+\)|^[A-Za-z]*Error\b.*:/.test(l));
}

/** Options of {@link runCellInChild}. */
export interface ChildCellOptions {
  /** The command-line module to run (e.g. the `promptkd` CLI's entry). */
  readonly cli: string;
  /** Its arguments (`kiop run --host ...`). */
  readonly args: readonly string[];
  /** Names the cell in error messages. */
  readonly label: string;
  /** Variables added to the child's environment (e.g. `PROMPTKD_MODELS` for a shared model cache). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Own process group, so a terminal's Ctrl-C reaches only the parent (a worker finishing its cells); the child
   * still stops when its parent dies (IPC disconnect).
   */
  readonly detached?: boolean;
  /** Node options of the child (default: this process's, e.g. the `tsx` loader of a development run). */
  readonly execArgv?: readonly string[];
}

/**
 * Runs one grid cell in a child process (one engine per core, as `runGrid` with `shareCoresAmongJobs` expects);
 * resolves when it exits successfully. The child's stderr goes to ours. A child that fails with a promptkd error
 * and reports it ({@link reportErrorToParent}, as the `promptkd` CLI does) rejects here with the same class, code
 * and details, the message prefixed with the cell; any other failure rejects with its exit status and last error
 * line.
 */
export function runCellInChild(options: ChildCellOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(options.cli, [...options.args], {
      execArgv: [...(options.execArgv ?? process.execArgv)],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      detached: options.detached ?? false,
    });
    let tail = '';
    let reported: PromptKdErrorJson | undefined;
    child.on('message', (m) => {
      if (isErrorMessage(m)) reported = m.error;
    });
    child.stderr?.on('data', (d: Buffer) => {
      process.stderr.write(d);
      tail = (tail + String(d)).slice(-8000);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) return resolve();
      if (reported) return reject(PromptKdError.fromJSON({ ...reported, message: `cell ${options.label}: ${reported.message}` }));
      const why = lastErrorLine(tail);
      reject(new Error(`cell ${options.label} exited with ${signal ?? `code ${code}`}${why ? `: ${why}` : ''}`));
    });
  });
}
