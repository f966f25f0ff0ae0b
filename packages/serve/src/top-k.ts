/** One of the top-k classes of a prediction. */
export interface TopClass {
  /** Source class index. */
  readonly index: number;
  readonly label: string;
  /** Softmax probability over the source task's classes. */
  readonly probability: number;
}

/**
 * The `k` most probable classes of a row of logits (softmax in float64, max-subtracted), most probable first;
 * ties keep the lower index first.
 */
export function topK(logits: ArrayLike<number>, k: number, labels: readonly string[]): TopClass[] {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i] as number);
  const exp = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    exp[i] = Math.exp((logits[i] as number) - max);
    sum += exp[i] as number;
  }
  return Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => (exp[b] as number) - (exp[a] as number) || a - b)
    .slice(0, Math.min(k, n))
    .map((index) => ({ index, label: labels[index] ?? String(index), probability: (exp[index] as number) / sum }));
}
