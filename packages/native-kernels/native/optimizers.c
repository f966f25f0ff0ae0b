/*
 * Fused optimizer updates of promptkd's native addon: one pass per variable instead of the 5 (momentum) or 14
 * (Adam) element-wise kernels of tfjs's optimizers. Conventions of elementwise.c: in place on the wasm heap,
 * offsets in floats, float32 arithmetic, work items that depend only on the size (bit-identical for any thread
 * count). Outputs may not alias inputs: tfjs gives every kernel output fresh memory.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>

#include "napi_args.h"

#include "clones.h"

#define ITEM 16384
#define PAR_MIN (1 << 19)

/*
 * Adam (PyTorch's form): m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², x' = x − stepSize·m' / (√v' / √c2 + ε), with
 * stepSize = lr / (1 − β1ᵗ) and √c2 = √(1 − β2ᵗ).
 */
CLONES static void adam_run(const float *x, const float *g, const float *m, const float *v, float *xo, float *mo, float *vo, int64_t n, float step_size,
                            float b1, float b2, float sqrt_c2, float eps) {
  const float inv_sqrt_c2 = 1.0f / sqrt_c2;
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    mo[i] = mi;
    vo[i] = vi;
    xo[i] = x[i] - step_size * (mi / (sqrtf(vi) * inv_sqrt_c2 + eps));
  }
}

/* adamUpdate(heap, n, xOff, gOff, mOff, vOff, xOutOff, mOutOff, vOutOff, stepSize, beta1, beta2, sqrtC2, eps) */
static napi_value adam_update(napi_env env, napi_callback_info info) {
  napi_value a[14];
  float *heap;
  size_t len;
  int64_t o[8];
  double h[5];
  if (!parse_heap_args(env, info, 14, a, &heap, &len, o, 8)) return NULL;
  for (int i = 0; i < 5; i++)
    if (!double_arg(env, a[9 + i], &h[i])) return NULL;
  const int64_t n = o[0];
  for (int i = 1; i < 8; i++)
    if (!heap_range_ok(env, len, o[i], n)) return NULL;
  const int64_t items = (n + ITEM - 1) / ITEM;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    const int64_t lo = it * ITEM, cnt = (lo + ITEM < n ? lo + ITEM : n) - lo;
    adam_run(heap + o[1] + lo, heap + o[2] + lo, heap + o[3] + lo, heap + o[4] + lo, heap + o[5] + lo, heap + o[6] + lo, heap + o[7] + lo, cnt,
             (float)h[0], (float)h[1], (float)h[2], (float)h[3], (float)h[4]);
  }
  return NULL;
}

/* SGD with momentum (PyTorch's, dampening 0): a' = μ·a + g; x' = x − lr·a', or x − lr·(g + μ·a') with Nesterov. */
CLONES static void momentum_run(const float *x, const float *g, const float *acc, float *xo, float *ao, int64_t n, float lr, float mu, int nesterov) {
  if (nesterov) {
    for (int64_t i = 0; i < n; i++) {
      const float ai = mu * acc[i] + g[i];
      ao[i] = ai;
      xo[i] = x[i] - lr * (g[i] + mu * ai);
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float ai = mu * acc[i] + g[i];
      ao[i] = ai;
      xo[i] = x[i] - lr * ai;
    }
  }
}

/* momentumUpdate(heap, n, xOff, gOff, accOff, xOutOff, accOutOff, lr, momentum, nesterov) */
static napi_value momentum_update(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t o[6];
  double lr, mu;
  bool nesterov;
  if (!parse_heap_args(env, info, 10, a, &heap, &len, o, 6) || !double_arg(env, a[7], &lr) || !double_arg(env, a[8], &mu)) return NULL;
  if (napi_get_value_bool(env, a[9], &nesterov) != napi_ok) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: momentumUpdate's nesterov flag must be a boolean");
    return NULL;
  }
  const int64_t n = o[0];
  for (int i = 1; i < 6; i++)
    if (!heap_range_ok(env, len, o[i], n)) return NULL;
  const int64_t items = (n + ITEM - 1) / ITEM;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    const int64_t lo = it * ITEM, cnt = (lo + ITEM < n ? lo + ITEM : n) - lo;
    momentum_run(heap + o[1] + lo, heap + o[2] + lo, heap + o[3] + lo, heap + o[4] + lo, heap + o[5] + lo, cnt, (float)lr, (float)mu, nesterov);
  }
  return NULL;
}

napi_value promptkd_register_optimizers(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"adamUpdate", NULL, adam_update, NULL, NULL, NULL, napi_default, NULL},
      {"momentumUpdate", NULL, momentum_update, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
