import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { randomLabelMappingSlices } from '@promptkd/label-mapping';
import { SegmentedPrompt } from '@promptkd/visual-prompt';
import { FusedModels } from '@promptkd/kiop';
import { TinyClassifier } from './fakes.js';

describe('FusedModels', () => {
  it('routes SMA through PC only and SM_k through k+1 segments and LM_k', () => {
    const host = new TinyClassifier('host', 10, 1);
    const prompt = new SegmentedPrompt({ sizes: [32, 36, 48, 56] });
    const mappings = randomLabelMappingSlices(10, [3, 4], 0);
    const fused = new FusedModels(host, prompt, mappings, { hostBnTrainMode: false });
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const sma = fused.sma(x);
    const smb = fused.smb(x);
    const smc = fused.smk(2, x);
    expect(sma.shape).toEqual([2, 10]);
    expect(smb.shape).toEqual([2, 3]);
    expect(smc.shape).toEqual([2, 4]);
    // SMA equals the host on the 36-px PC canvas; SMB equals the mapped host logits on the 48-px canvas.
    const direct = tf.tidy(() => host.apply(prompt.apply(x, { upTo: 1 })).logits);
    expect(Array.from(sma.dataSync())).toEqual(Array.from(direct.dataSync()));
    const hostOn48 = tf.tidy(() => host.apply(prompt.apply(x, { upTo: 2 })).logits.arraySync() as number[][]);
    const smbRows = smb.arraySync() as number[][];
    smbRows.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(hostOn48[i]![mappings[0]!.mapping[j]!]!, 5)));
    tf.dispose([x, sma, smb, smc, direct]);
    host.dispose();
    prompt.dispose();
  });

  it('refuses a prompt with too few segments for its sources', () => {
    const host = new TinyClassifier('host', 10, 1);
    const prompt = new SegmentedPrompt({ sizes: [32, 36, 48] });
    expect(() => new FusedModels(host, prompt, randomLabelMappingSlices(10, [3, 4], 0), { hostBnTrainMode: false })).toThrow(
      /needs 3/,
    );
    host.dispose();
    prompt.dispose();
  });
});
