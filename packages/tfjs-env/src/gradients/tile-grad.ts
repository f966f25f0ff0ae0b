import * as tf from '@tensorflow/tfjs';

/**
 * Gradient of `Tile` as a sum over the replicas: for each tiled axis i (reps r_i > 1), dy viewed as
 * `[prod(dims before i), r_i, d_i·prod(dims after i)]` summed over its middle axis — three kernels per tiled axis.
 * tfjs 4.22's own gradient adds one slice of dy per replica (two kernels per replica: 128 for a `[1, L, D]` prompt
 * tiled to a batch of 64), and saves x only for its shape, which follows from dy and the reps.
 */
export const tileGradConfig: tf.GradConfig = {
  kernelName: tf.Tile,
  inputsToSave: [],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const g0 = dy as tf.Tensor;
    const reps = attrs.reps as number[];
    return {
      x: () => {
        const shape = [...g0.shape];
        let g = g0;
        reps.forEach((r, i) => {
          if (r === 1) return;
          const d = (shape[i] as number) / r;
          const before = shape.slice(0, i).reduce((a, b) => a * b, 1);
          const after = shape.slice(i + 1).reduce((a, b) => a * b, 1);
          g = tf.sum(tf.reshape(g, [before, r, d * after]), 1);
          shape[i] = d;
        });
        return tf.reshape(g, shape);
      },
    };
  },
};
