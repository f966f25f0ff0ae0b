const NAMES = ['accB', 'accC', 'accD', 'accE'];

/**
 * The metric name of source k's accuracy in KiOP's results (`final`, `best.metrics`, epoch records): Acc.B for the
 * first source (SMB), Acc.C for the second (SMC), …
 *
 * @param k - source index, 1-based (1: model B).
 * @example
 * sourceAccuracyName(1); // 'accB'
 */
export function sourceAccuracyName(k: number): string {
  return NAMES[k - 1] ?? `acc${k + 1}`;
}
