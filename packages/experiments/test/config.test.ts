import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { applyOverrides, definePresets, parseConfig, parseSetOverrides, readConfigFile, resolvePreset } from '@promptkd/experiments';

const Schema = z
  .object({
    variant: z.enum(['vanilla-kd', 'kiop-t', 'kiop-b', 'kiop-bf']),
    epochs: z.number().int().positive(),
    optim: z.object({ lr: z.number().positive(), momentum: z.number().min(0).max(1).default(0.9), nesterov: z.boolean().default(false) }).strict(),
    prompt: z.object({ kind: z.literal('pad').or(z.literal('full')), size: z.number().int().optional() }).strict(),
    seeds: z.array(z.number().int()).default([0]),
    note: z.string().optional(),
  })
  .strict();

function catchErr(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const base = { variant: 'kiop-b', epochs: 2, optim: { lr: 0.01 }, prompt: { kind: 'pad' } } as const;

describe('parseConfig', () => {
  it('returns the parsed value with defaults', () => {
    expect(parseConfig(Schema, base, 'test')).toEqual({ ...base, optim: { lr: 0.01, momentum: 0.9, nesterov: false }, seeds: [0] });
  });

  it('names every bad field with its allowed values', () => {
    const e = catchErr(() =>
      parseConfig(Schema, { variant: 'kiop-x', epochs: 0, optim: { lr: 0.1, lrr: 1 }, prompt: { kind: 'tiny' }, seeds: ['a'] }, 'configs/x.json'),
    );
    expect(e.message).toContain('Invalid config (configs/x.json)');
    expect(e.message).toContain('variant: expected one of "vanilla-kd" | "kiop-t" | "kiop-b" | "kiop-bf"; got "kiop-x"');
    expect(e.message).toMatch(/epochs: Too small: expected number to be >0; got 0/);
    expect(e.message).toContain('optim: unknown key "lrr"; allowed keys: lr, momentum, nesterov');
    expect(e.message).toContain('prompt.kind: expected one of "pad" | "full"; got "tiny"');
    expect(e.message).toMatch(/seeds\.0: .*expected number/);
    expect(e.details.field).toBe('variant');
    expect(e.details.source).toBe('configs/x.json');
    const issues = e.details.issues as { field: string; allowed?: unknown[] }[];
    expect(issues.find((i) => i.field === 'prompt.kind')?.allowed).toEqual(['pad', 'full']);
  });

  it('reports missing required fields', () => {
    const e = catchErr(() => parseConfig(Schema, { variant: 'kiop-t', optim: { lr: 1 }, prompt: { kind: 'pad' } }, 'x'));
    expect(e.message).toContain('epochs: is required (expected number)');
  });

  it('reads JSON config files with the path as source', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-cfg-'));
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify(base));
    expect(readConfigFile(Schema, good).variant).toBe('kiop-b');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"variant":');
    expect(() => readConfigFile(Schema, bad)).toThrow(/not valid JSON/);
    expect(() => readConfigFile(Schema, path.join(dir, 'none.json'))).toThrow(ConfigError);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('presets', () => {
  const presets = definePresets(Schema, {
    paper: { ...base, epochs: 200, optim: { lr: 0.01 } },
    cpu: { ...base, epochs: 20 },
    demo: { ...base, epochs: 5 },
    smoke: { ...base, epochs: 1, seeds: [0, 1] },
  });

  it('validates presets eagerly and lists names', () => {
    expect(presets.names).toEqual(['paper', 'cpu', 'demo', 'smoke']);
    expect(presets.get('paper').epochs).toBe(200);
    expect(() =>
      definePresets(Schema, { paper: base, cpu: base, demo: base, smoke: { ...base, epochs: -1 } }),
    ).toThrow(/preset 'smoke'[\s\S]*epochs/);
    expect(() => definePresets(Schema, { paper: base, cpu: base, demo: base } as never)).toThrow(/missing: smoke/);
  });

  it('resolvePreset applies object and --set overrides and validates the result', () => {
    expect(resolvePreset(presets, 'demo')).toEqual(presets.get('demo'));
    const r = resolvePreset(presets, 'demo', ['optim.lr=0.5', 'optim.nesterov=true', 'seeds=1,2,3', 'prompt.kind=full', 'prompt.size=4', 'note=hello world']);
    expect(r).toMatchObject({ epochs: 5, optim: { lr: 0.5, momentum: 0.9, nesterov: true }, seeds: [1, 2, 3], prompt: { kind: 'full', size: 4 }, note: 'hello world' });
    expect(resolvePreset(presets, 'cpu', { epochs: 3 }).epochs).toBe(3);
    expect(resolvePreset(presets, 'cpu', ['seeds=[4,5]']).seeds).toEqual([4, 5]);
    const e = catchErr(() => resolvePreset(presets, 'demo', ['variant=kiop-q']));
    expect(e.message).toContain("preset 'demo' with overrides");
    expect(e.message).toContain('variant: expected one of');
  });

  it('unknown preset names and bad --set keys or values give clear errors', () => {
    const e = catchErr(() => resolvePreset(presets, 'fast'));
    expect(e.message).toBe("Unknown preset 'fast'. Valid presets: paper, cpu, demo, smoke.");
    expect(e.details.allowed).toEqual(['paper', 'cpu', 'demo', 'smoke']);
    expect(catchErr(() => parseSetOverrides(Schema, ['optim.rate=1'])).message).toBe(
      "--set optim.rate: 'rate' is not a field of optim; fields: lr, momentum, nesterov.",
    );
    expect(catchErr(() => parseSetOverrides(Schema, ['epochs=ten'])).message).toContain('expected a number');
    expect(catchErr(() => parseSetOverrides(Schema, ['optim.nesterov=maybe'])).message).toContain('expected true or false');
    expect(catchErr(() => parseSetOverrides(Schema, ['epochs'])).message).toContain('key.path=value');
  });
});

describe('--set through unions and records ({key, kwargs} components)', () => {
  const Component = z.object({
    loss: z.discriminatedUnion('key', [
      z.object({ key: z.literal('kl'), kwargs: z.object({ temperature: z.number() }) }),
      z.object({ key: z.literal('dkd'), kwargs: z.object({ alpha: z.number(), beta: z.number() }) }),
    ]),
    extra: z.record(z.string(), z.unknown()).default({}),
  });
  it('coerces by the union member that has the path and passes free-form kwargs as JSON', () => {
    expect(parseSetOverrides(Component, ['loss.kwargs.temperature=4', 'loss.key=kl', 'extra.flag=true', 'extra.name=abc'])).toEqual({
      loss: { key: 'kl', kwargs: { temperature: 4 } },
      extra: { flag: true, name: 'abc' },
    });
    expect(() => parseSetOverrides(Component, ['loss.kwarg.t=1'])).toThrow(/'kwarg' is not a field of loss; fields: key, kwargs/);
    const e = catchErr(() => parseConfig(Component, { loss: { key: 'ce', kwargs: {} } }, 'cli'));
    expect(e.message).toContain('loss.key: expected one of "kl" | "dkd"; got "ce"');
  });
});

describe('applyOverrides', () => {
  it('deep-merges objects, replaces arrays, does not mutate', () => {
    const a = { x: { y: 1, z: [1, 2] }, w: 1 };
    expect(applyOverrides(a, { x: { z: [3] } })).toEqual({ x: { y: 1, z: [3] }, w: 1 });
    expect(a.x.z).toEqual([1, 2]);
  });
});
