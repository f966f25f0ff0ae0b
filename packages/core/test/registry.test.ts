import { describe, expect, it } from 'vitest';
import { createRegistry, RegistryError } from '@promptkd/core';

describe('createRegistry', () => {
  it('returns registered entries with metadata', () => {
    const r = createRegistry<(x: number) => number>('thing');
    r.register('double', { description: 'x2', paper: { citation: 'Someone, 2024' }, create: (x) => 2 * x });
    expect(r.get('double').create(3)).toBe(6);
    expect(r.keys()).toEqual(['double']);
    expect(r.markdownTable()).toContain('| `double` | x2 | Someone, 2024 |');
  });

  it('lists valid keys on an unknown key', () => {
    const r = createRegistry<() => void>('KD loss');
    r.register('kl', { description: 'KL', create: () => {} });
    r.register('dkd', { description: 'DKD', create: () => {} });
    expect(() => r.get('nope')).toThrow(RegistryError);
    expect(() => r.get('nope')).toThrow(/Unknown KD loss 'nope'. Valid keys: dkd, kl/);
  });

  it('refuses duplicates unless overridden', () => {
    const r = createRegistry<number>('n');
    r.register('a', { description: '', create: 1 });
    expect(() => r.register('a', { description: '', create: 2 })).toThrow(/already registered/);
    r.register('a', { description: '', create: 2 }, { override: true });
    expect(r.get('a').create).toBe(2);
  });
});
