import { createRequire } from 'node:module';

/** Where progress is written: anything with `write` (a `process.stderr`-like stream). */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

/** How progress is shown. `auto`: a bar with ETA on a TTY, plain periodic lines otherwise (CI logs). */
export type ProgressMode = 'auto' | 'bar' | 'plain' | 'silent';

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Number of units (steps, batches, epochs) to do. */
  readonly total: number;
  /** Shown in front of every line, e.g. `kiop-b epoch 3/40`. */
  readonly label: string;
  /** Default `auto`, or the `PROMPTKD_PROGRESS` environment variable (`bar`, `plain`, `silent`). */
  readonly mode?: ProgressMode;
  /** Shorthand for `mode: 'silent'` (tests). */
  readonly silent?: boolean;
  /** Default `process.stderr` (stdout stays clean for tables and JSON). */
  readonly stream?: ProgressStream;
  /** Plain mode: minimum milliseconds between lines (default 10 000). The final line is always printed. */
  readonly intervalMs?: number;
  /** Clock in ms (tests inject one). Default `Date.now`. */
  readonly now?: () => number;
  /** Starting value when resuming (units already done before this process). Not counted for the ETA rate. */
  readonly start?: number;
}

/** Values shown next to the progress, e.g. `{loss: 0.123, acc: 0.91}`. */
export type ProgressValues = Readonly<Record<string, number | string>>;

/** A running progress display. */
export interface Progress {
  /** Advances by `n` units (default 1) and updates the shown values. */
  tick(n?: number, values?: ProgressValues): void;
  /** Sets the absolute value. */
  update(value: number, values?: ProgressValues): void;
  /** Current value. */
  readonly value: number;
  readonly total: number;
  /** Estimated seconds remaining (undefined before the first unit). */
  eta(): number | undefined;
  /** Prints the final state and releases the terminal. Idempotent. */
  stop(): void;
}

interface CliBar {
  start(total: number, value: number, payload?: Record<string, unknown>): void;
  update(value: number, payload?: Record<string, unknown>): void;
  stop(): void;
}
interface CliProgressModule {
  SingleBar: new (options: Record<string, unknown>, preset?: unknown) => CliBar;
  Presets: Record<string, unknown>;
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

function formatValues(values: ProgressValues): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v}`)
    .join(' ');
}

function resolveMode(options: ProgressOptions, stream: ProgressStream): Exclude<ProgressMode, 'auto'> {
  if (options.silent) return 'silent';
  const env = process.env.PROMPTKD_PROGRESS;
  const mode = options.mode ?? (env === 'bar' || env === 'plain' || env === 'silent' ? env : 'auto');
  if (mode !== 'auto') return mode;
  return stream.isTTY ? 'bar' : 'plain';
}

/**
 * A progress display for a long loop: on a TTY a cli-progress bar with percentage and ETA; elsewhere one
 * plain line every `intervalMs` (`label 120/1000 (12.0%) elapsed 1m02s ETA 7m35s loss=0.1234`), so CI logs
 * stay readable; `silent` for tests.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const mode = resolveMode(options, stream);
  const now = options.now ?? Date.now;
  const total = options.total;
  const interval = options.intervalMs ?? 10_000;
  const startValue = options.start ?? 0;
  const t0 = now();
  let value = startValue;
  let values: ProgressValues = {};
  let lastPrint = Number.NEGATIVE_INFINITY;
  let stopped = false;
  let bar: CliBar | undefined;

  const eta = (): number | undefined => {
    const done = value - startValue;
    if (done <= 0) return undefined;
    return ((now() - t0) / 1000 / done) * Math.max(0, total - value);
  };
  const plainLine = (): string => {
    const pct = total > 0 ? ((100 * value) / total).toFixed(1) : '100.0';
    const e = eta();
    const extra = formatValues(values);
    return `${options.label} ${value}/${total} (${pct}%) elapsed ${formatDuration((now() - t0) / 1000)}` +
      `${e === undefined ? '' : ` ETA ${formatDuration(e)}`}${extra ? ` ${extra}` : ''}\n`;
  };

  if (mode === 'bar') {
    const require = createRequire(import.meta.url);
    const cli = require('cli-progress') as CliProgressModule;
    bar = new cli.SingleBar(
      {
        format: `${options.label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted} | ETA {eta_formatted} {extra}`,
        stream,
        etaBuffer: 50,
        hideCursor: true,
        clearOnComplete: false,
        noTTYOutput: false,
      },
      cli.Presets.shades_classic,
    );
    bar.start(total, value, { extra: '' });
  }

  const render = (): void => {
    if (mode === 'bar') bar?.update(value, { extra: formatValues(values) });
    else if (mode === 'plain') {
      const t = now();
      if (t - lastPrint >= interval) {
        lastPrint = t;
        stream.write(plainLine());
      }
    }
  };

  return {
    tick(n = 1, v) {
      if (stopped) return;
      value += n;
      if (v) values = { ...values, ...v };
      render();
    },
    update(newValue, v) {
      if (stopped) return;
      value = newValue;
      if (v) values = { ...values, ...v };
      render();
    },
    get value() {
      return value;
    },
    total,
    eta,
    stop() {
      if (stopped) return;
      stopped = true;
      if (mode === 'bar') bar?.stop();
      else if (mode === 'plain') stream.write(plainLine());
    },
  };
}
