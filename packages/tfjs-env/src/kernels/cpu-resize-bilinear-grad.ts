import type * as tf from '@tensorflow/tfjs';

/**
 * `ResizeBilinearGrad` for the cpu backend. The stock 4.22 kernel computes dx in the right layout but returns it
 * with height and width swapped in its shape (`[N, W, H, C]`), so the gradient of a non-square bilinear resize
 * fails ("gradient … does not match the shape of the input"). This runs the stock kernel and gives its values the
 * input's shape. Its values ignore `halfPixelCenters` (on every backend), so promptkd's differentiable resizes
 * (CMI's views in @promptkd/data-free) do not use it: they resample with `bilinearMatrix` of @promptkd/core.
 */
export function cpuResizeBilinearGrad(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const images = args.inputs.images as tf.TensorInfo;
    const backend = args.backend as tf.KernelBackend & {
      data: { get(id: tf.DataId): { values: tf.backend_util.BackendValues } };
      makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
      disposeIntermediateTensorInfo(t: tf.TensorInfo): void;
    };
    const out = stock(args) as tf.TensorInfo;
    if (out.shape.every((d, i) => d === images.shape[i])) return out;
    const fixed = backend.makeTensorInfo([...images.shape], 'float32', backend.data.get(out.dataId).values);
    backend.disposeIntermediateTensorInfo(out);
    return fixed;
  };
}
