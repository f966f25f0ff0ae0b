import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration } from '@promptkd/experiments';

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => chunks.push(s) } };
}

describe('createProgress', () => {
  it('prints plain periodic lines with ETA on a non-TTY stream (CI logs)', () => {
    const { chunks, stream } = sink(false);
    let t = 0;
    const p = createProgress({ total: 100, label: 'epoch 1', stream, intervalMs: 10_000, now: () => t });
    for (let i = 0; i < 100; i++) {
      t += 1000; // 1 s per step
      p.tick(1, { loss: 1 / (i + 1), acc: 0.5 });
    }
    p.stop();
    p.stop();
    // First tick, then one line per 10 s, plus the final line.
    expect(chunks.length).toBe(1 + 9 + 1);
    expect(chunks[0]).toBe('epoch 1 1/100 (1.0%) elapsed 1s ETA 1m39s loss=1 acc=0.5000\n');
    expect(chunks[1]).toBe('epoch 1 11/100 (11.0%) elapsed 11s ETA 1m29s loss=0.09091 acc=0.5000\n');
    expect(chunks.at(-1)).toBe('epoch 1 100/100 (100.0%) elapsed 1m40s ETA 0s loss=0.01000 acc=0.5000\n');
    expect(chunks.every((c) => !c.includes('\r') && !c.includes('\u001b'))).toBe(true);
  });

  it('counts a resumed start value without using it for the rate', () => {
    const { chunks, stream } = sink(false);
    let t = 0;
    const p = createProgress({ total: 10, label: 'x', stream, start: 5, now: () => t, intervalMs: 0 });
    expect(p.eta()).toBeUndefined();
    t = 2000;
    p.tick();
    expect(p.value).toBe(6);
    expect(p.eta()).toBeCloseTo(8);
    p.update(10);
    p.stop();
    expect(chunks.at(-1)).toMatch(/^x 10\/10 \(100\.0%\)/);
  });

  it('draws a bar on a TTY and nothing when silent', () => {
    const tty = sink(true);
    const p = createProgress({ total: 4, label: 'train', stream: tty.stream as never });
    p.tick(2, { loss: 0.5 });
    p.stop();
    const out = tty.chunks.join('');
    expect(out).toContain('train');
    expect(out).toMatch(/ETA/);
    const quiet = sink(false);
    const q = createProgress({ total: 4, label: 'q', stream: quiet.stream, silent: true });
    q.tick(4);
    q.stop();
    expect(quiet.chunks).toEqual([]);
  });

  it('formats durations', () => {
    expect([formatDuration(5), formatDuration(65), formatDuration(3720), formatDuration(Number.NaN)]).toEqual(['5s', '1m05s', '1h02m', '?']);
  });
});
