import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapOf, type NativeKernelsAddon } from './heap.js';
import { addonFunction, type NativeKernel } from './native-util.js';

/** Kernel of the ReLU gradient: inputs `{ dy, x }`, output `dy·step(x)` (tfjs's `Relu` gradient in one pass). */
export const RELU_GRAD_KERNEL = 'PromptkdReluGrad';
/** Kernel of the LeakyReLU gradient: inputs `{ dy, x }`, attr `alpha`, output `x > 0 ? dy : α·dy`. */
export const LEAKY_RELU_GRAD_KERNEL = 'PromptkdLeakyReluGrad';

type ActivationGradFn = (heap: Float32Array, op: number, n: number, dyOff: number, xOff: number, dxOff: number, alpha: number) => void;

function activationGradKernel(op: number): (addon: NativeKernelsAddon) => NativeKernel | undefined {
  return (addon) => {
    const run = addonFunction<ActivationGradFn>(addon, 'activationGrad');
    if (!run) return undefined;
    return (args: KernelArgs) => {
      const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      const b = args.backend;
      const dx = b.makeOutput(x.shape, 'float32');
      const n = tf.util.sizeFromShape(x.shape);
      const alpha = typeof args.attrs?.alpha === 'number' ? args.attrs.alpha : 0;
      if (n > 0) run(heapOf(args), op, n, floatOffset(b, dy), floatOffset(b, x), floatOffset(b, dx), alpha);
      return dx;
    };
  };
}

/** The gradient kernels the wasm backend lacks, added with the native addon. */
export const ACTIVATION_GRAD_KERNELS: ReadonlyMap<string, (addon: NativeKernelsAddon) => NativeKernel | undefined> = new Map([
  [RELU_GRAD_KERNEL, activationGradKernel(0)],
  [LEAKY_RELU_GRAD_KERNEL, activationGradKernel(1)],
]);

/** The stock gradient with its input gradient computed by `kernel` where the active backend has it (float32). */
function fusedInputGradient(kernel: string, withAlpha: boolean): (stock: tf.GradConfig) => tf.GradConfig {
  return (stock) => ({
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0] as tf.Tensor;
      const d = dy as tf.Tensor;
      if (x.dtype !== 'float32' || d.dtype !== 'float32' || !tf.getKernel(kernel, tf.getBackend())) return stock.gradFunc(dy, saved, attrs);
      const a: tf.NamedAttrMap = withAlpha ? { alpha: attrs.alpha as number } : {};
      return { x: () => tf.engine().runKernel(kernel, { dy: d, x }, a) as tf.Tensor };
    },
  });
}

/**
 * Gradients of stock kernels replaced while the native kernels are registered: the same values from one fused
 * kernel instead of tfjs's `Step` + `Multiply` (ReLU) or `Greater` + `Multiply` + `Select` (LeakyReLU). Each falls
 * back to the stock gradient on backends without the fused kernel.
 */
export const NATIVE_GRADIENTS: ReadonlyMap<string, (stock: tf.GradConfig) => tf.GradConfig> = new Map([
  [tf.Relu, fusedInputGradient(RELU_GRAD_KERNEL, false)],
  [tf.LeakyRelu, fusedInputGradient(LEAKY_RELU_GRAD_KERNEL, true)],
]);
