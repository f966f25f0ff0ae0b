/*
 * Fused transformer kernels of promptkd's native addon: exact GELU and layer norm, forward and backward, each in
 * one pass over the data instead of the 5–20 element-wise kernels their compositions take. Same conventions as
 * elementwise.c: in place on the wasm heap, offsets in floats, float32 arithmetic, work items whose boundaries
 * depend only on the shapes, so results are bit-identical for any thread count.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mathf.h"
#include "napi_args.h"
#include "shared_loops.h"

#include "clones.h"

/* Elements per work item, and the size from which a loop is split over the threads. */
#define ITEM 16384
#define PAR_MIN (1 << 18)
/* Rows per partial sum of the layer-norm parameter gradients. */
#define LN_ROW_BLOCK 64

/* GELU(x) = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); NaN propagates. */
CLONES static void gelu_run(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v * 0.5f * (1.0f + erf_f(v * 0.70710678118654752f));
  }
}

/* dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^{−x²/2}/√(2π). */
CLONES static void gelu_grad_run(const float *dy, const float *x, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float cdf = 0.5f * (1.0f + erf_f(v * 0.70710678118654752f));
    const float pdf = exp_f(-0.5f * v * v) * 0.39894228040143268f;
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

/* gelu(heap, n, xOff, yOff) */
static napi_value gelu(napi_env env, napi_callback_info info) {
  napi_value a[4];
  float *heap;
  size_t len;
  int64_t v[3];
  if (!parse_heap_args(env, info, 4, a, &heap, &len, v, 3)) return NULL;
  const int64_t n = v[0];
  if (!heap_range_ok(env, len, v[1], n) || !heap_range_ok(env, len, v[2], n)) return NULL;
  const float *x = heap + v[1];
  float *y = heap + v[2];
  const int64_t items = (n + ITEM - 1) / ITEM;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    const int64_t lo = it * ITEM, hi = lo + ITEM < n ? lo + ITEM : n;
    gelu_run(x + lo, y + lo, hi - lo);
  }
  return NULL;
}

/* geluGrad(heap, n, dyOff, xOff, dxOff) */
static napi_value gelu_grad(napi_env env, napi_callback_info info) {
  napi_value a[5];
  float *heap;
  size_t len;
  int64_t v[4];
  if (!parse_heap_args(env, info, 5, a, &heap, &len, v, 4)) return NULL;
  const int64_t n = v[0];
  if (!heap_range_ok(env, len, v[1], n) || !heap_range_ok(env, len, v[2], n) || !heap_range_ok(env, len, v[3], n)) return NULL;
  const float *dy = heap + v[1], *x = heap + v[2];
  float *dx = heap + v[3];
  const int64_t items = (n + ITEM - 1) / ITEM;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    const int64_t lo = it * ITEM, hi = lo + ITEM < n ? lo + ITEM : n;
    gelu_grad_run(dy + lo, x + lo, dx + lo, hi - lo);
  }
  return NULL;
}

/*
 * Activation gradients from the activation's input, one pass instead of the 2–4 kernels of tfjs's gradients:
 * op 0, ReLU: dx = dy·step(x) (step = 1 for x > 0, 0 otherwise, NaN for NaN, as tfjs's); op 1, LeakyReLU:
 * dx = x > 0 ? dy : α·dy.
 */
CLONES static void activation_grad_run(int op, const float *dy, const float *x, float *dx, int64_t n, float alpha) {
  if (op == 0) {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      dx[i] = dy[i] * (v != v ? v : (v > 0.0f ? 1.0f : 0.0f));
    }
  } else {
    for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i];
  }
}

/* activationGrad(heap, op, n, dyOff, xOff, dxOff, alpha) */
static napi_value activation_grad(napi_env env, napi_callback_info info) {
  napi_value a[7];
  float *heap;
  size_t len;
  int64_t v[5];
  double alpha;
  if (!parse_heap_args(env, info, 7, a, &heap, &len, v, 5) || !double_arg(env, a[6], &alpha)) return NULL;
  const int64_t op = v[0], n = v[1];
  if (op < 0 || op > 1) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: unknown activation-gradient op");
    return NULL;
  }
  if (!heap_range_ok(env, len, v[2], n) || !heap_range_ok(env, len, v[3], n) || !heap_range_ok(env, len, v[4], n)) return NULL;
  const int64_t items = (n + ITEM - 1) / ITEM;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    const int64_t lo = it * ITEM, hi = lo + ITEM < n ? lo + ITEM : n;
    activation_grad_run((int)op, heap + v[2] + lo, heap + v[3] + lo, heap + v[4] + lo, hi - lo, (float)alpha);
  }
  return NULL;
}

/*
 * Σ_c f(x[c]) in 16 interleaved partial sums (lane c mod 16), then added pairwise: an order fixed by C alone, which the
 * compiler vectorises (one running sum in order became one add per element, a chain 4 cycles long per add: in the KDP
 * student step the layer-norm statistics took 4 % of the step). f: x itself, or (x − m)².
 */
#define LANES 16
static inline __attribute__((always_inline)) float lane_sum(const float *restrict x, int64_t n, int squares, float m) {
  float part[LANES];
  for (int k = 0; k < LANES; k++) part[k] = 0.0f;
  int64_t c = 0;
  for (; c + LANES <= n; c += LANES) {
#pragma omp simd
    for (int k = 0; k < LANES; k++) {
      const float v = squares ? (x[c + k] - m) * (x[c + k] - m) : x[c + k];
      part[k] += v;
    }
  }
  for (int k = 0; c + k < n; k++) part[k] += squares ? (x[c + k] - m) * (x[c + k] - m) : x[c + k];
  for (int w = LANES / 2; w > 0; w /= 2)
    for (int k = 0; k < w; k++) part[k] += part[k + w];
  return part[0];
}

/* Mean and 1/√(var + eps) of one row (two passes, as tf.moments: mean, then the mean squared deviation). */
CLONES static void row_stats(const float *x, int64_t C, float eps, float *mean, float *rstd) {
  const float m = lane_sum(x, C, 0, 0.0f) / (float)C;
  const float q = lane_sum(x, C, 1, m);
  *mean = m;
  *rstd = 1.0f / sqrtf(q / (float)C + eps);
}

CLONES static void ln_rows(const float *x, const float *g, const float *b, float *y, int64_t rows, int64_t C, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    float m, rs;
    row_stats(x + r * C, C, eps, &m, &rs);
    const float *xr = x + r * C;
    float *yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - m) * rs * g[c] + b[c];
  }
}

/* For the other kernels of the addon (transformer_block.c): layer norm over rows and exact GELU, on this thread. */
void promptkd_layer_norm_rows(const float *x, const float *g, const float *b, float *y, int64_t rows, int64_t C, float eps) {
  ln_rows(x, g, b, y, rows, C, eps);
}

void promptkd_gelu_rows(const float *x, float *y, int64_t n) { gelu_run(x, y, n); }

void promptkd_gelu_grad_rows(const float *dy, const float *x, float *dx, int64_t n) { gelu_grad_run(dy, x, dx, n); }

/*
 * Rows [0, rows) of the backward pass: dx, and this block's partial dγ = Σ dy·x̂, dβ = Σ dy (pg, pb, length C).
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, x̂ = (x − μ)·rstd.
 */
CLONES static void ln_grad_rows(const float *dy, const float *x, const float *gam, float *dx, float *pg, float *pb, int64_t rows, int64_t C, float eps) {
  for (int64_t c = 0; c < C; c++) pg[c] = pb[c] = 0.0f;
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * C, *dyr = dy + r * C;
    float *dxr = dx + r * C;
    float m, rs;
    row_stats(xr, C, eps, &m, &rs);
    float sg = 0.0f, sgx = 0.0f;
    for (int64_t c = 0; c < C; c++) {
      const float xh = (xr[c] - m) * rs, g = dyr[c] * gam[c];
      sg += g;
      sgx += g * xh;
      pg[c] += dyr[c] * xh;
      pb[c] += dyr[c];
    }
    const float mg = sg / (float)C, mgx = sgx / (float)C;
    for (int64_t c = 0; c < C; c++) {
      const float xh = (xr[c] - m) * rs;
      dxr[c] = rs * (dyr[c] * gam[c] - mg - xh * mgx);
    }
  }
}

/* dx of layer norm over rows, on this thread (transformer_block.c); pg, pb: scratch of C floats each. */
void promptkd_layer_norm_grad_rows(const float *dy, const float *x, const float *gam, float *dx, float *pg, float *pb, int64_t rows, int64_t C, float eps) {
  ln_grad_rows(dy, x, gam, dx, pg, pb, rows, C, eps);
}

/* layerNorm(heap, rows, C, xOff, gammaOff, betaOff, yOff, eps): y = (x − μ)/√(σ² + ε)·γ + β over the last axis. */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  napi_value a[8];
  float *heap;
  size_t len;
  int64_t v[6];
  double eps;
  if (!parse_heap_args(env, info, 8, a, &heap, &len, v, 6)) return NULL;
  if (!double_arg(env, a[7], &eps)) return NULL;
  const int64_t rows = v[0], C = v[1];
  if (rows < 0 || C < 1) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: layerNorm needs at least one channel");
    return NULL;
  }
  if (!heap_range_ok(env, len, v[2], rows * C) || !heap_range_ok(env, len, v[3], C) || !heap_range_ok(env, len, v[4], C) || !heap_range_ok(env, len, v[5], rows * C)) return NULL;
  const float *x = heap + v[2], *g = heap + v[3], *b = heap + v[4];
  float *y = heap + v[5];
  int64_t per = ITEM / C;
  if (per < 1) per = 1;
  const int64_t items = (rows + per - 1) / per;
#pragma omp parallel for schedule(static) if (rows * C >= PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    const int64_t r0 = it * per, r1 = r0 + per < rows ? r0 + per : rows;
    ln_rows(x + r0 * C, g, b, y + r0 * C, r1 - r0, C, (float)eps);
  }
  return NULL;
}

/* layerNormGrad(heap, rows, C, dyOff, xOff, gammaOff, dxOff, dGammaOff, dBetaOff, eps) */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t v[8];
  double eps;
  if (!parse_heap_args(env, info, 10, a, &heap, &len, v, 8)) return NULL;
  if (!double_arg(env, a[9], &eps)) return NULL;
  const int64_t rows = v[0], C = v[1], n = rows * C;
  if (rows < 0 || C < 1) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: layerNormGrad needs at least one channel");
    return NULL;
  }
  if (!heap_range_ok(env, len, v[2], n) || !heap_range_ok(env, len, v[3], n) || !heap_range_ok(env, len, v[4], C) || !heap_range_ok(env, len, v[5], n) ||
      !heap_range_ok(env, len, v[6], C) || !heap_range_ok(env, len, v[7], C))
    return NULL;
  const float *dy = heap + v[2], *x = heap + v[3], *gam = heap + v[4];
  float *dx = heap + v[5], *dg = heap + v[6], *db = heap + v[7];
  const int64_t blocks = rows > 0 ? (rows + LN_ROW_BLOCK - 1) / LN_ROW_BLOCK : 0;
  float *part = (float *)malloc(sizeof(float) * (size_t)(2 * C * (blocks > 0 ? blocks : 1)));
  if (!part) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for layer-norm partial sums");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t k = 0; k < blocks; k++) {
    const int64_t r0 = k * LN_ROW_BLOCK, r1 = r0 + LN_ROW_BLOCK < rows ? r0 + LN_ROW_BLOCK : rows;
    ln_grad_rows(dy + r0 * C, x + r0 * C, gam, dx + r0 * C, part + 2 * C * k, part + 2 * C * k + C, r1 - r0, C, (float)eps);
  }
  /* The blocks' partial sums in block order: independent of the thread count. */
  for (int64_t c = 0; c < C; c++) dg[c] = db[c] = 0.0f;
  for (int64_t k = 0; k < blocks; k++)
    for (int64_t c = 0; c < C; c++) {
      dg[c] += part[2 * C * k + c];
      db[c] += part[2 * C * k + C + c];
    }
  free(part);
  return NULL;
}

napi_value promptkd_register_fused(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_default, NULL},
      {"activationGrad", NULL, activation_grad, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
