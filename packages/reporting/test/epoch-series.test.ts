import { describe, expect, it } from 'vitest';
import { epochSeries, type EpochMetrics } from '@promptkd/reporting';

describe('epochSeries', () => {
  it('one metric per epoch as chart points: x = the 1-based epoch, y = percent; a missing metric is NaN', () => {
    const epochs: EpochMetrics[] = [
      { epoch: 0, metrics: { accA: 0.9, accB: 0.1 } },
      { epoch: 1, metrics: { accA: 0.8, accB: 0.25 } },
      { epoch: 2, metrics: { accA: 0.85 } },
    ];
    const s = epochSeries('KiOP-B Acc.B', epochs, 'accB');
    expect(s.name).toBe('KiOP-B Acc.B');
    expect(s.points.slice(0, 2)).toEqual([[1, 10], [2, 25]]);
    expect((s.points[2] as readonly [number, number])[0]).toBe(3);
    expect(Number.isNaN((s.points[2] as readonly [number, number])[1])).toBe(true);
    expect(epochSeries('loss', [{ epoch: 4, metrics: { loss: 0.5 } }], 'loss', { scale: 1 }).points).toEqual([[5, 0.5]]);
  });
});
