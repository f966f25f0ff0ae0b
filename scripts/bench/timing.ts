import { performance } from 'node:perf_hooks';

/** Milliseconds of each of `runs` calls of `fn`, after `warmup` untimed calls. */
export function timeIt(fn: () => void, runs: number, warmup: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * `timeIt` with a partner: after each of our calls (before it, every other run) `partner` runs one step of the
 * reference and returns its milliseconds. Both series then see the same machine load. Returns both series.
 */
export async function timePaired(fn: () => void, partner: () => Promise<number>, runs: number, warmup: number): Promise<{ ours: number[]; partner: number[] }> {
  for (let i = 0; i < warmup; i++) {
    fn();
    await partner();
  }
  const ours: number[] = [];
  const other: number[] = [];
  const timeOurs = (): void => {
    const t0 = performance.now();
    fn();
    ours.push(performance.now() - t0);
  };
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      timeOurs();
      other.push(await partner());
    } else {
      other.push(await partner());
      timeOurs();
    }
  }
  return { ours, partner: other };
}
