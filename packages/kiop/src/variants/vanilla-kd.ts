import * as tf from '@tensorflow/tfjs';
import { ConfigError, type ClassifierModel } from '@promptkd/core';
import { bankStream } from '../bank-stream.js';
import { effectiveClasses, evaluatePredictions, top1Accuracy } from '../evaluate.js';
import { sourceTerm } from '../kl-terms.js';
import { reseedAll } from '../reseed.js';
import type { KiopVariant } from '../session.js';

function headNames(model: ClassifierModel): readonly string[] {
  if (!model.headNames?.length) {
    throw new ConfigError(
      `Model '${model.name}' does not declare its classifier head (headNames); Vanilla-KD needs it to swap heads.`,
      { field: 'host' },
    );
  }
  return model.headNames;
}

/** Copies every variable of `from` into `to` by name, except `skip`; shapes must agree. */
function copyVariables(from: ClassifierModel, to: ClassifierModel, skip: ReadonlySet<string>): void {
  const target = to.namedVariables();
  for (const [name, v] of from.namedVariables()) {
    if (skip.has(name)) continue;
    const dst = target.get(name);
    if (!dst) throw new ConfigError(`Vanilla-KD: '${to.name}' has no variable '${name}' of the host.`, { field: 'host' });
    dst.assign(v);
  }
}

/**
 * Vanilla-KD (paper §5): classic data-free KD (CMI) where the host network itself is the student. Its
 * parameters are trained on the source's synthetic bank with a K_B-way head; the original head is kept and
 * restored to measure Acc.A — the catastrophic-forgetting baseline.
 */
export const vanillaKd: KiopVariant = {
  create(ctx) {
    const { config, host } = ctx;
    const source = ctx.sources[0];
    if (!source || ctx.sources.length !== 1) {
      throw new ConfigError('vanillaKd takes exactly one source model.', { field: 'sources' });
    }
    if (!ctx.buildHostLike) {
      throw new ConfigError('vanillaKd needs buildHostLike(numClasses) to create the trainable host copy.', {
        field: 'buildHostLike',
      });
    }
    const build = ctx.buildHostLike;
    const head = new Set(headNames(host));
    source.setTrainable(false);
    const student = build(source.numClasses);
    copyVariables(host, student, head);
    student.setTrainable(true);
    const originalHead = new Map([...host.namedVariables()].filter(([n]) => head.has(n)).map(([n, v]) => [n, v.clone()]));

    const synthesizer = ctx.createSynthesizer({
      bank: 'B',
      teacher: source,
      adversary: (x) => student.apply(x, { training: false }).logits,
      numClasses: source.numClasses,
      rng: ctx.rng.fork(),
    });
    const stream = bankStream(synthesizer, ctx.rng.fork(), ctx.sourceAugment?.[0]);

    return {
      synthesizers: [{ bank: 'B', synthesizer }],
      baseLr: config.vanillaLr,
      trainableVariables: () => student.trainableVariables(),
      lossTerms() {
        const x = stream.next(config.batchSize);
        const t = source.apply(x, { training: false }).logits;
        return { L_B: sourceTerm(student.apply(x, { training: true }).logits, t, config.temperature) };
      },
      async evaluate() {
        const b = await evaluatePredictions((x) => student.apply(x, { training: false }).logits, ctx.sourceTests[0]!);
        // Acc.A: the trained backbone with the host's original head restored.
        const restored = build(host.numClasses);
        try {
          copyVariables(student, restored, head);
          const vars = restored.namedVariables();
          for (const [n, v] of originalHead) vars.get(n)!.assign(v);
          restored.setTrainable(false);
          const accA = await top1Accuracy((x) => restored.apply(x, { training: false }).logits, ctx.hostTest);
          return { accA, accB: b.accuracy, predictedClassesB: effectiveClasses(b.predicted) };
        } finally {
          restored.dispose();
        }
      },
      reseed: (seed) => reseedAll(seed, [stream], [synthesizer]),
      stateVariables: () => Object.fromEntries(student.namedVariables()),
      dispose() {
        synthesizer.dispose();
        student.dispose();
        tf.dispose([...originalHead.values()]);
      },
    };
  },
};
