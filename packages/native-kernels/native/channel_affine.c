/*
 * Per-channel affine map of promptkd's native addon, y = x·scale + shift (optionally ReLU'd), and its input gradient:
 * eval-mode batch norm (scale = γ/√(σ²+ε), shift = β − μ·scale) in one pass instead of the multiply, add and ReLU
 * kernels of its composition. x is [N, P, C] (P = H·W for NHWC); scale and shift are [C] for every row, or [N, C], one
 * per image (a batch whose images carry their own BN statistics). Conventions of kernels.c; element-wise, so the
 * result is bit-identical for any thread count.
 */
#include <node_api.h>
#include <stdint.h>

#include "clones.h"
#include "napi_args.h"

/* Size (N·P·C floats) from which the images are split over the threads (whole images per thread). */
#define PAR_MIN (1 << 17)

/* One image: y[p, c] = x[p, c]·s[c] + b[c] for p < P, then max(·, 0) when relu (NaN stays NaN). */
CLONES static void affine_image(const float *x, const float *s, const float *b, float *y, int64_t P, int64_t C, int relu) {
  for (int64_t p = 0; p < P; p++) {
    const float *xp = x + p * C;
    float *yp = y + p * C;
    if (relu) {
      for (int64_t c = 0; c < C; c++) {
        const float v = xp[c] * s[c] + b[c];
        yp[c] = v < 0.0f ? 0.0f : v;
      }
    } else {
      for (int64_t c = 0; c < C; c++) yp[c] = xp[c] * s[c] + b[c];
    }
  }
}

/* One image: dx[p, c] = dy[p, c]·s[c], times step(y) when relu (1 for y > 0, 0 otherwise, NaN for NaN: tfjs's ReLU gradient). */
CLONES static void affine_grad_image(const float *dy, const float *y, const float *s, float *dx, int64_t P, int64_t C, int relu) {
  for (int64_t p = 0; p < P; p++) {
    const float *dyp = dy + p * C;
    float *dxp = dx + p * C;
    if (relu) {
      const float *yp = y + p * C;
      for (int64_t c = 0; c < C; c++) {
        const float v = yp[c];
        dxp[c] = dyp[c] * s[c] * (v != v ? v : (v > 0.0f ? 1.0f : 0.0f));
      }
    } else {
      for (int64_t c = 0; c < C; c++) dxp[c] = dyp[c] * s[c];
    }
  }
}

/* Checks N, P, C ≥ 1 and the ranges of two [N, P, C] tensors and of scale/shift ([C], or [N, C] when perRow). */
static int affine_ranges(napi_env env, size_t len, const int64_t *v, int64_t big0, int64_t big1, int64_t s, int64_t b) {
  const int64_t N = v[0], P = v[1], C = v[2], per = v[3] ? N * C : C;
  if (N < 1 || P < 1 || C < 1) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: channelAffine needs N, P, C ≥ 1");
    return 0;
  }
  return heap_range_ok(env, len, big0, N * P * C) && heap_range_ok(env, len, big1, N * P * C) && heap_range_ok(env, len, s, per) &&
         (b < 0 || heap_range_ok(env, len, b, per));
}

/*
 * channelAffine(heap, N, P, C, perRow, relu, xOff, scaleOff, shiftOff, yOff) when !grad;
 * channelAffineGrad(heap, N, P, C, perRow, relu, dyOff, yOff, scaleOff, dxOff) when grad.
 */
static napi_value run(napi_env env, napi_callback_info info, int grad) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t v[9];
  if (!parse_heap_args(env, info, 10, a, &heap, &len, v, 9)) return NULL;
  const int64_t N = v[0], P = v[1], C = v[2], per_row = v[3], relu = v[4];
  /* [N, P, C]: x and y, or dy, y and dx; [C] or [N, C]: scale and shift, or scale */
  const int ok = grad ? affine_ranges(env, len, v, v[5], v[8], v[7], -1) && heap_range_ok(env, len, v[6], N * P * C)
                      : affine_ranges(env, len, v, v[5], v[8], v[6], v[7]);
  if (!ok) return NULL;
#pragma omp parallel for schedule(static) if (N > 1 && N * P * C >= PAR_MIN)
  for (int64_t n = 0; n < N; n++) {
    const int64_t at = n * P * C, ps = per_row ? n * C : 0;
    if (grad)
      affine_grad_image(heap + v[5] + at, heap + v[6] + at, heap + v[7] + ps, heap + v[8] + at, P, C, (int)relu);
    else
      affine_image(heap + v[5] + at, heap + v[6] + ps, heap + v[7] + ps, heap + v[8] + at, P, C, (int)relu);
  }
  return NULL;
}

static napi_value channel_affine(napi_env env, napi_callback_info info) { return run(env, info, 0); }

static napi_value channel_affine_grad(napi_env env, napi_callback_info info) { return run(env, info, 1); }

napi_value promptkd_register_channel_affine(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"channelAffine", NULL, channel_affine, NULL, NULL, NULL, napi_default, NULL},
      {"channelAffineGrad", NULL, channel_affine_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
