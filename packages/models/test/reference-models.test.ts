import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { CheckpointError, disposeAll } from '@promptkd/core';
import { CmiGenerator, ResNet, createModel, VggBn, deserializeModel, parseSafetensors, type ResNetConfig } from '@promptkd/models';
import { expectClose, readFixture } from '@promptkd/testing';
import { fixtureBytes, flat } from './helpers.js';

// Fixtures from tooling/fixtures/models-reference.py (float64 numpy forwards of the PyTorch modules).
type Ref = Record<string, Record<string, unknown>>;
const ref = readFixture<Ref>(import.meta.url, 'ref-logits.json');
const inputs = parseSafetensors(fixtureBytes(import.meta.url, 'ref-inputs.safetensors'), 'ref-inputs.safetensors').tensors;

function input(name: string): tf.Tensor4D {
  const e = inputs.get(name)!;
  return tf.tidy(() => tf.transpose(tf.tensor4d(e.data, [...e.shape] as [number, number, number, number]), [0, 2, 3, 1]));
}

function load<T extends Parameters<typeof deserializeModel>[0]>(m: T, file: string): T {
  deserializeModel(m, fixtureBytes(import.meta.url, file), { file });
  return m;
}

describe('ResNets vs numpy reference', () => {
  for (const key of ['resnet18-tv', 'resnet50-tv', 'resnet18-cifar']) {
    it(`${key}: eval logits at 32 and 36 px`, () => {
      const r = ref[key]!;
      const m = load(new ResNet({ ...(r.config as ResNetConfig), numClasses: 5 }), `ref-${key}.safetensors`);
      for (const xin of ['x32', 'x36']) {
        const x = input(xin);
        const out = m.apply(x);
        expectClose(out.logits.dataSync(), flat(r[`logits_${xin}`]), { rtol: 1e-4, atol: 1e-5, label: `${key} ${xin}` });
        disposeAll([x, out]);
      }
      m.dispose();
    });
  }

  it('CIFAR ResNet-18 train mode: logits and running stats after one step', () => {
    const r = ref['resnet18-cifar']!;
    const m = load(new ResNet({ ...(r.config as ResNetConfig), numClasses: 5 }), 'ref-resnet18-cifar.safetensors');
    const x = input('x32');
    const out = m.apply(x, { training: true });
    expectClose(out.logits.dataSync(), flat(r.train_logits_x32), { rtol: 1e-4, atol: 1e-4, label: 'train logits' });
    const running = r.train_running as Record<string, number[]>;
    expect(Object.keys(running).length).toBeGreaterThanOrEqual(6);
    for (const [name, values] of Object.entries(running)) {
      expectClose(m.namedVariables().get(name)!.dataSync(), values, { rtol: 1e-4, atol: 1e-5, label: name });
    }
    disposeAll([x, out]);
    m.dispose();
  });
});

describe('architectures at full size', () => {
  it('parameter count equals torchvision resnet18 (1000 classes: 11,689,512)', () => {
    const cases: [string, number, number][] = [['resnet18', 1000, 11_689_512]];
    for (const [key, k, count] of cases) {
      const m = createModel(key, { numClasses: k });
      expect(m.parameterCount(), key).toBe(count);
      m.dispose();
    }
  });
});

describe('VGG-13-BN vs numpy reference', () => {
  it('eval logits at 32 px (1×1 map replicated to 7×7) and 64 px (overlapping adaptive bins)', () => {
    const r = ref.vgg13bn!;
    const m = load(new VggBn({ ...(r.config as object), numClasses: 5 }), 'ref-vgg13bn.safetensors');
    for (const xin of ['x32', 'x64']) {
      const x = input(xin);
      const out = m.apply(x);
      expectClose(out.logits.dataSync(), flat(r[`logits_${xin}`]), { rtol: 1e-4, atol: 1e-5, label: `vgg ${xin}` });
      disposeAll([x, out]);
    }
    m.dispose();
  });
});

describe('CMI generator vs numpy reference', () => {
  it('train-mode images and BN running stats match', () => {
    const r = ref['cmi-generator']!;
    const g = load(new CmiGenerator(r.config as object), 'ref-cmi-generator.safetensors');
    const z = inputs.get('z')!;
    const zt = tf.tensor2d(z.data, [z.shape[0]!, z.shape[1]!]);
    const img = g.apply(zt);
    expect(img.shape).toEqual([3, 8, 8, 3]);
    const nchw = tf.transpose(img, [0, 3, 1, 2]);
    expectClose(nchw.dataSync(), flat(r.images_nchw), { rtol: 1e-4, atol: 1e-5, label: 'images' });
    expectClose(g.namedVariables().get('conv_blocks.7.running_mean')!.dataSync(), r['running_mean_after_conv_blocks.7'] as number[], { label: 'rm' });
    disposeAll([zt, img, nchw]);
    g.dispose();
  });
});

describe('strict loading', () => {
  it('reports missing, unexpected and mismatched keys together and assigns nothing', () => {
    const r = ref['resnet18-cifar']!;
    const m = new ResNet({ ...(r.config as ResNetConfig), numClasses: 7 });
    const before = m.namedVariables().get('conv1.weight')!.dataSync().slice();
    const file = parseSafetensors(fixtureBytes(import.meta.url, 'ref-resnet18-cifar.safetensors'));
    const tensors = new Map(file.tensors);
    tensors.delete('layer1.0.bn1.running_var');
    tensors.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array([1]) });
    let err: CheckpointError | undefined;
    try {
      deserializeModel(m, { tensors, metadata: {} }, { file: 'ckpt.safetensors' });
    } catch (e) {
      err = e as CheckpointError;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err!.message).toContain('ckpt.safetensors');
    expect(err!.details.missing).toEqual(['layer1.0.bn1.running_var']);
    expect(err!.details.unexpected).toEqual(['extra.weight']);
    expect((err!.details.mismatched as { name: string }[]).map((x) => x.name)).toEqual(['linear.weight', 'linear.bias']);
    expect(Array.from(m.namedVariables().get('conv1.weight')!.dataSync())).toEqual(Array.from(before));
    // Non-strict with the head excluded loads the rest (a replaced classifier head).
    const rep = deserializeModel(m, { tensors, metadata: {} }, { strict: false, exclude: (n) => n.startsWith('linear.') });
    expect(rep.missing).toEqual(['layer1.0.bn1.running_var']);
    expect(rep.unexpected).toEqual(['extra.weight']);
    expect(Array.from(m.namedVariables().get('conv1.weight')!.dataSync())).not.toEqual(Array.from(before));
    m.dispose();
  });
});
