import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { CDL_SEED_ROLES, cdlSeed } from '../src/index.js';

describe('cdlSeed', () => {
  it('gives every role, task and seed its own stream', () => {
    const seen = new Map<number, string>();
    for (let seed = -8; seed < 64; seed++) {
      for (const role of CDL_SEED_ROLES) {
        for (let task = 0; task < 24; task++) {
          const s = cdlSeed(seed, role, task);
          const id = `${seed}/${role}/${task}`;
          expect(seen.get(s), `${id} collides with ${seen.get(s)}`).toBeUndefined();
          seen.set(s, id);
        }
      }
    }
    expect(seen.size).toBe(72 * CDL_SEED_ROLES.length * 24);
  });

  it('keeps apart the pairs the old `>>> 1` merged (adjacent seeds, roles and tasks)', () => {
    // e.g. seed 0: kdParts vs studentHead; seed 1: teacherPrompts vs teacherHead; tasks 2k and 2k+1.
    expect(cdlSeed(0, 'kdParts')).not.toBe(cdlSeed(0, 'studentHead'));
    expect(cdlSeed(1, 'teacherPrompts')).not.toBe(cdlSeed(1, 'teacherHead'));
    expect(cdlSeed(3, 'studentBatches', 2)).not.toBe(cdlSeed(3, 'studentBatches', 3));
    expect(cdlSeed(4, 'teacherBatches', 0)).not.toBe(cdlSeed(5, 'teacherBatches', 0));
  });

  it('is deterministic and an integer', () => {
    expect(cdlSeed(7, 'studentPrompts', 3)).toBe(cdlSeed(7, 'studentPrompts', 3));
    expect(Number.isInteger(cdlSeed(123456, 'kdParts', 4095))).toBe(true);
  });

  it('rejects bad input with a ConfigError', () => {
    expect(() => cdlSeed(0.5, 'kdParts')).toThrow(ConfigError);
    expect(() => cdlSeed(0, 'kdParts', -1)).toThrow(ConfigError);
    expect(() => cdlSeed(0, 'kdParts', 4096)).toThrow(ConfigError);
    expect(() => cdlSeed(0, 'nope' as never)).toThrow(/teacherPrompts/);
  });
});
