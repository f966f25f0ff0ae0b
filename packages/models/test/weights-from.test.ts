import { describe, expect, it } from 'vitest';
import { CheckpointError, NonFiniteError } from '@promptkd/core';
import { createModel, exportStateDict, loadModelWeightsFrom, serializeModel, serializeSafetensors, type FunctionalClassifier } from '@promptkd/models';

// Model weights from a URL or a dropped file (a Blob), as a browser page loads them: the same checks and errors.
describe('loadModelWeightsFrom (URL or Blob)', () => {
  const net = (seed: number) => createModel('bnCnn', { blocks: [4], numClasses: 3, seed }) as FunctionalClassifier;

  it('fills a model from a Blob and from a fetched URL', async () => {
    const src = net(1);
    const bytes = serializeModel(src);
    for (const source of [new Blob([bytes as BlobPart]), 'https://example.invalid/w.safetensors']) {
      const dst = net(2);
      await loadModelWeightsFrom(dst, source, {
        fetch: async () => ({ ok: true, status: 200, statusText: 'OK', arrayBuffer: async () => bytes.slice().buffer }),
      });
      for (const [name, t] of exportStateDict(src)) expect(Array.from(exportStateDict(dst).get(name)!.data)).toEqual(Array.from(t.data));
      dst.dispose();
    }
    src.dispose();
  });

  it('rejects wrong names and non-finite values all or nothing, naming the source', async () => {
    const dst = net(3);
    const wrong = serializeSafetensors(new Map([['nope', { shape: [1], data: new Float32Array([1]) }]]));
    await expect(loadModelWeightsFrom(dst, 'https://example.invalid/wrong.safetensors', {
      fetch: async () => ({ ok: true, status: 200, statusText: 'OK', arrayBuffer: async () => wrong.slice().buffer }),
    })).rejects.toThrow(CheckpointError);
    const other = net(4);
    const dict = exportStateDict(other);
    other.dispose();
    const [first] = dict.keys();
    dict.get(first!)!.data[0] = Number.NaN;
    const bad = serializeSafetensors(dict);
    await expect(loadModelWeightsFrom(dst, new Blob([bad as BlobPart]))).rejects.toThrow(NonFiniteError);
    dst.dispose();
  });
});
