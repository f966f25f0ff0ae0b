import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DataFormatError } from '@promptkd/core';
import { collectResults, createRunFolder } from '@promptkd/experiments';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-collect-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const finish = (name: string, seed: number, acc: number) => {
  const run = createRunFolder(root, { name, config: { name }, seed });
  run.writeResults({ acc });
};

describe('collectResults', () => {
  it('finds the finished run folders at the given depth, in id order, with their results and seeds', () => {
    finish('b__c/kd__s1', 1, 0.5);
    finish('a__c/kdp__s0', 0, 0.75);
    finish('a__c/kd__s0', 0, 0.25);
    createRunFolder(root, { name: 'a__c/kd__s2', config: {}, seed: 2 }); // unfinished: no results.json
    finish('top__s9', 9, 1); // another depth
    const found = collectResults<{ acc: number }>(root, { depth: 2 });
    expect(found.map((f) => [f.id, f.seed, f.results.acc])).toEqual([
      ['a__c/kd__s0', 0, 0.25],
      ['a__c/kdp__s0', 0, 0.75],
      ['b__c/kd__s1', 1, 0.5],
    ]);
    expect(found[0]?.segments).toEqual(['a__c', 'kd__s0']);
    expect(found[0]?.dir).toBe(path.join(root, 'a__c', 'kd__s0'));
    expect(collectResults(root, { depth: 1 }).map((f) => f.id)).toEqual(['top__s9']);
  });

  it('keeps only the ids that match, and gives none for a missing root', () => {
    finish('p/kd__s0', 0, 0.1);
    finish('p/notes', 0, 0.2);
    expect(collectResults(root, { depth: 2, match: (s) => /__s\d+$/.test(s[1] ?? '') }).map((f) => f.id)).toEqual(['p/kd__s0']);
    expect(collectResults(path.join(root, 'nope'), { depth: 2 })).toEqual([]);
  });

  it('names a corrupt results.json and rejects a bad depth', () => {
    finish('p/kd__s0', 0, 0.1);
    fs.writeFileSync(path.join(root, 'p', 'kd__s0', 'results.json'), '{"results": ');
    expect(() => collectResults(root, { depth: 2 })).toThrow(DataFormatError);
    expect(() => collectResults(root, { depth: 2 })).toThrow(/kd__s0.results\.json is not valid JSON/);
    expect(() => collectResults(root, { depth: 0 })).toThrow(ConfigError);
  });

  it('follows symlinked pair and run folders (a grid put together from several runs), and skips dangling links', () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-collect-other-'));
    try {
      createRunFolder(elsewhere, { name: 'p/kd__s1', config: {}, seed: 1 }).writeResults({ acc: 0.5 });
      createRunFolder(elsewhere, { name: 'q/kd__s0', config: {}, seed: 0 }).writeResults({ acc: 0.25 });
      finish('p/kd__s0', 0, 0.1);
      fs.symlinkSync(path.join(elsewhere, 'p', 'kd__s1'), path.join(root, 'p', 'kd__s1')); // a run folder
      fs.symlinkSync(path.join(elsewhere, 'q'), path.join(root, 'q')); // a pair folder
      fs.symlinkSync(path.join(elsewhere, 'gone'), path.join(root, 'p', 'kd__s2'));
      expect(collectResults<{ acc: number }>(root, { depth: 2 }).map((f) => [f.id, f.results.acc])).toEqual([
        ['p/kd__s0', 0.1],
        ['p/kd__s1', 0.5],
        ['q/kd__s0', 0.25],
      ]);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
