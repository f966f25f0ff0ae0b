import * as tf from '@tensorflow/tfjs';
import { ConfigError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { registerGradientOnce } from './register-gradient-once.js';

/**
 * Kernel name of a whole pre-norm ViT block forward (timm `Block`, exact GELU): inputs `x` `[N, L, D]`, the block's
 * weights (`ln1Gamma`, `ln1Beta`, `qkvWeight` `[D, 3D]`, `projWeight` `[D, D]`, `ln2Gamma`, `ln2Beta`, `fc1Weight`
 * `[D, F]`, `fc2Weight` `[F, D]`; optional `qkvBias`, `projBias`, `fc1Bias`, `fc2Bias`) and optional prefix tokens
 * `prependKey`/`prependValue`, `appendKey`/`appendValue` `[N|1, Lp, D]`; attrs `heads`, `eps`; output `[N, L, D]`.
 * It has no gradient: it serves forwards no gradient goes through.
 */
export const VIT_BLOCK_KERNEL = 'PromptkdVitBlock';
/**
 * The same forward keeping what its gradient needs: inputs and attrs as {@link VIT_BLOCK_KERNEL}'s (prefixes of batch
 * N); outputs `[y, qkv, p, h, u]` — `qkv`
 * `[N, L, 3D]`, the attention `p` `[N, H, L, Lk]`, `h` (after attention's residual) `[N, L, D]` and fc₁'s output `u`
 * `[N, L, F]`, kept for the gradient.
 */
export const VIT_BLOCK_TRAIN_KERNEL = 'PromptkdVitBlockTrain';
/**
 * Its gradient: inputs `dy`, the forward's inputs and its kept outputs `qkv`, `p`, `h`, `u`; outputs the gradients
 * wrt `x` and each prefix input given, in the order `prependKey`, `prependValue`, `appendKey`, `appendValue`. The
 * weights take none: the block is frozen (prompt tuning).
 */
export const VIT_BLOCK_GRAD_KERNEL = 'PromptkdVitBlockGrad';

const PREFIX_INPUTS = ['prependKey', 'prependValue', 'appendKey', 'appendValue'] as const;

const FORWARD_GRADIENT: tf.GradConfig = {
  kernelName: VIT_BLOCK_KERNEL,
  inputsToSave: [],
  gradFunc: () => {
    throw new ConfigError(
      `${VIT_BLOCK_KERNEL} has no gradient: it runs only in ViT forwards given \`noGrad: true\`. Drop noGrad where a gradient must flow through the ViT.`,
      { kernel: VIT_BLOCK_KERNEL },
    );
  },
};

/** The weights of one pre-norm ViT block, linear weights `[in, out]` (this project's layout). */
export interface VitBlockWeights {
  /** γ, β of LN₁ `[D]`. */
  readonly ln1Gamma: tf.Tensor;
  readonly ln1Beta: tf.Tensor;
  /** W_qkv `[D, 3D]` and its bias `[3D]`. */
  readonly qkvWeight: tf.Tensor;
  readonly qkvBias?: tf.Tensor;
  /** W_proj `[D, D]` and its bias `[D]`. */
  readonly projWeight: tf.Tensor;
  readonly projBias?: tf.Tensor;
  /** γ, β of LN₂ `[D]`. */
  readonly ln2Gamma: tf.Tensor;
  readonly ln2Beta: tf.Tensor;
  /** W₁ `[D, F]`, b₁ `[F]`, W₂ `[F, D]`, b₂ `[D]` of the MLP. */
  readonly fc1Weight: tf.Tensor;
  readonly fc1Bias?: tf.Tensor;
  readonly fc2Weight: tf.Tensor;
  readonly fc2Bias?: tf.Tensor;
}

/** Prefix key/value tokens `[N|1, Lp, D]` before (`prepend*`) and after (`append*`) the block's own keys. */
export interface VitBlockPrefix {
  readonly prependKey?: tf.Tensor;
  readonly prependValue?: tf.Tensor;
  readonly appendKey?: tf.Tensor;
  readonly appendValue?: tf.Tensor;
}

/**
 * One pre-norm ViT block of frozen weights as a single kernel, `y = h + fc₂(GELU(fc₁(LN₂(h))))` with
 * `h = x + proj(MHA(LN₁(x)))` and the prefix tokens among the keys and values: the native addon takes chunks of whole
 * samples through the block on each thread instead of ~15 kernels per block forward and ~25 backward. With
 * `gradient: false` the forward keeps nothing and has no gradient (a frozen teacher, evaluation); with `gradient: true`
 * it differentiates wrt `x` and the prefix tokens (prompt tuning) but not the weights. Returns `undefined` where the
 * active backend lacks the kernels or an operand is not float32: the caller composes the block (the same values to
 * rounding). The caller checks the shapes.
 *
 * @param x — the block's input `[N, L, D]`.
 * @param w — the block's weights (frozen).
 * @param heads — H, dividing D.
 * @param eps — ε of both layer norms.
 * @param prefix — prefix keys and values.
 * @param gradient — whether a gradient wrt `x` and the prefixes may be taken.
 */
export function fusedVitBlock(
  x: tf.Tensor3D,
  w: VitBlockWeights,
  heads: number,
  eps: number,
  prefix: VitBlockPrefix = {},
  gradient = false,
): tf.Tensor3D | undefined {
  const inputs: tf.NamedTensorMap = { x };
  for (const [name, t] of Object.entries({ ...w, ...prefix })) if (t) inputs[name] = t;
  if (!Object.values(inputs).every((t) => t.dtype === 'float32')) return undefined;
  if (!gradient) {
    if (!hasFusedKernels(VIT_BLOCK_KERNEL)) return undefined;
    registerGradientOnce(FORWARD_GRADIENT);
    return tf.engine().runKernel(VIT_BLOCK_KERNEL, inputs, { heads, eps }) as tf.Tensor3D;
  }
  if (!hasFusedKernels(VIT_BLOCK_TRAIN_KERNEL, VIT_BLOCK_GRAD_KERNEL)) return undefined;
  // the differentiable inputs: x and the prefixes (given once for the batch, tiled: tile's gradient sums them back);
  // the weights are closed over, frozen
  const names = ['x', ...PREFIX_INPUTS.filter((name) => inputs[name])];
  const weights = Object.fromEntries(Object.entries(inputs).filter(([name]) => !names.includes(name)));
  const attrs = { heads, eps };
  const block = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const given: tf.NamedTensorMap = { ...weights };
    names.forEach((name, i) => (given[name] = args[i] as tf.Tensor));
    const [y, ...kept] = tf.engine().runKernel(VIT_BLOCK_TRAIN_KERNEL, given, attrs) as tf.Tensor[];
    save([...names.map((name) => given[name] as tf.Tensor), ...kept]);
    return {
      value: y as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const gradInputs: tf.NamedTensorMap = { ...weights, dy };
        names.forEach((name, i) => (gradInputs[name] = saved[i] as tf.Tensor));
        ['qkv', 'p', 'h', 'u'].forEach((name, i) => (gradInputs[name] = saved[names.length + i] as tf.Tensor));
        return tf.engine().runKernel(VIT_BLOCK_GRAD_KERNEL, gradInputs, attrs) as tf.Tensor[];
      },
    };
  });
  return tf.tidy(() => {
    const args = names.map((name) => {
      const t = inputs[name] as tf.Tensor;
      return t.shape[0] === x.shape[0] ? t : tf.tile(t, [x.shape[0], 1, 1]);
    });
    return block(...args) as tf.Tensor3D;
  });
}
