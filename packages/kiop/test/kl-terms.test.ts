import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { preservationTerm, sourceTerm } from '@promptkd/kiop';

// τ²·mean_i Σ_c p_ic (log p_ic − log q_ic) written out in plain numbers.
function kl(pLogits: number[][], qLogits: number[][], T: number): number {
  const logSoftmax = (r: number[]) => {
    const m = Math.max(...r.map((v) => v / T));
    const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v / T - m), 0));
    return r.map((v) => v / T - lse);
  };
  let total = 0;
  pLogits.forEach((row, i) => {
    const lp = logSoftmax(row);
    const lq = logSoftmax(qLogits[i]!);
    total += lp.reduce((s, v, c) => s + Math.exp(v) * (v - lq[c]!), 0);
  });
  return (T * T * total) / pLogits.length;
}

describe('KiOP KL terms', () => {
  const a = [[1, 2, 0.5], [0, -1, 3]];
  const b = [[0.2, 1.5, 2], [1, 0, -2]];

  it('source term = τ²·KL(f_B ‖ SMB)', () => {
    const v = tf.tidy(() => sourceTerm(tf.tensor2d(a), tf.tensor2d(b), 4).dataSync()[0]!);
    expect(v).toBeCloseTo(kl(b, a, 4), 4);
  });

  it('preservation term: forward = KL(P_MA ‖ P_SMA) (paper), reversed = KL(P_SMA ‖ P_MA) (code)', () => {
    const prompted = tf.tensor2d(a);
    const host = tf.tensor2d(b);
    const fwd = tf.tidy(() => preservationTerm(prompted, host, { temperature: 3, order: 'forward' }).dataSync()[0]!);
    const rev = tf.tidy(() => preservationTerm(prompted, host, { temperature: 3, order: 'reversed' }).dataSync()[0]!);
    expect(fwd).toBeCloseTo(kl(b, a, 3), 4);
    expect(rev).toBeCloseTo(kl(a, b, 3), 4);
    // In the reversed order the gradient flows through the prompted distribution p (it is not detached).
    const g = tf.grad((p: tf.Tensor) => preservationTerm(p as tf.Tensor2D, host, { temperature: 3, order: 'reversed' }))(prompted);
    const eps = 1e-3;
    const bumped = a.map((r) => [...r]);
    bumped[0]![1]! += eps;
    const lower = a.map((r) => [...r]);
    lower[0]![1]! -= eps;
    expect(g.arraySync() as number[][]).toBeDefined();
    expect((g.arraySync() as number[][])[0]![1]!).toBeCloseTo((kl(bumped, b, 3) - kl(lower, b, 3)) / (2 * eps), 3);
    tf.dispose([prompted, host, g]);
  });
});
