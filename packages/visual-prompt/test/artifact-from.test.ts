import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { DataFormatError, ResourceUnavailableError } from '@promptkd/core';
import { SegmentedPrompt, encodePromptArtifact, loadPromptArtifactFrom } from '@promptkd/visual-prompt';

// Prompt artifacts from a URL or a dropped file (a Blob), as a browser page loads them: the same checks and errors.
describe('loadPromptArtifactFrom (URL or Blob)', () => {
  const prompt = new SegmentedPrompt({ sizes: [4, 6, 8], channels: 1 });
  tf.tidy(() => prompt.trainableVariables().forEach((v, i) => v.assign(tf.fill(v.shape, 0.1 * (i + 1)))));
  const { safetensors } = encodePromptArtifact(prompt, { description: 'blob test' });

  it('loads a Blob and a fetched URL into the same prompt', async () => {
    const fromBlob = await loadPromptArtifactFrom(new Blob([safetensors as BlobPart]));
    const fetched: string[] = [];
    const fromUrl = await loadPromptArtifactFrom('https://example.invalid/p.safetensors', {
      fetch: async (url) => {
        fetched.push(url);
        return { ok: true, status: 200, statusText: 'OK', arrayBuffer: async () => safetensors.slice().buffer };
      },
    });
    expect(fetched).toEqual(['https://example.invalid/p.safetensors']);
    for (const loaded of [fromBlob, fromUrl]) {
      expect(loaded.metadata.description).toBe('blob test');
      const [a, b] = [prompt, loaded.prompt].map((p) => p.trainableVariables().map((v) => Array.from(v.dataSync())));
      expect(b).toEqual(a);
      loaded.prompt.dispose();
    }
  });

  it('a failed request is a ResourceUnavailableError naming the URL; a corrupt file a DataFormatError', async () => {
    const notFound = async () => ({ ok: false, status: 404, statusText: 'Not Found', arrayBuffer: async () => new ArrayBuffer(0) });
    await expect(loadPromptArtifactFrom('https://example.invalid/missing', { fetch: notFound })).rejects.toThrow(ResourceUnavailableError);
    await expect(loadPromptArtifactFrom('https://example.invalid/missing', { fetch: notFound })).rejects.toThrow(/missing answered HTTP 404/);
    const offline = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(loadPromptArtifactFrom('https://example.invalid/x', { fetch: offline })).rejects.toThrow(/could not be fetched \(fetch failed\)/);
    await expect(loadPromptArtifactFrom(new Blob([safetensors.slice(0, 20) as BlobPart]))).rejects.toThrow(DataFormatError);
  });
});
