/** Largest |a-b| / max(|b|, floor) over two flat arrays. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-6): number {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const err = Math.abs(a - e) / Math.max(Math.abs(e), floor);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

/**
 * Asserts elementwise closeness: |a-e| <= atol + rtol·|e| for every element.
 * Throws with the first offending index.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { rtol?: number; atol?: number; label?: string } = {},
): void {
  const rtol = options.rtol ?? 1e-4;
  const atol = options.atol ?? 1e-5;
  if (actual.length !== expected.length) {
    throw new Error(`${options.label ?? 'values'}: length ${actual.length} != expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(
        `${options.label ?? 'values'}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}
