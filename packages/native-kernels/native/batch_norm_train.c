/*
 * Training-mode batch norm of promptkd's native addon, forward and backward in one pass each (conventions of
 * kernels.c). x is [R, C] (R = N·H·W for NHWC); statistics are per channel over the R rows. Column sums are taken
 * over fixed blocks of rows (sizes from the shape only) and the blocks' partials added in block order, so results
 * are bit-identical for any thread count.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi_args.h"

#define BLOCK_FLOATS 16384
#define PAR_MIN (1 << 17)

static int64_t rows_per_block(int64_t C) {
  const int64_t rb = BLOCK_FLOATS / C;
  return rb < 1 ? 1 : rb;
}

/* acc[c] = Σ_r f(x[r, c]) for rows of one block (f chosen by mode; m = per-channel means). */
static void col_sums(const float *x, int64_t rows, int64_t C, const float *m, float *acc) {
  for (int64_t c = 0; c < C; c++) acc[c] = 0.0f;
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    if (m) {
      for (int64_t c = 0; c < C; c++) acc[c] += (xr[c] - m[c]) * (xr[c] - m[c]);
    } else {
      for (int64_t c = 0; c < C; c++) acc[c] += xr[c];
    }
  }
}

/* Σ over the blocks' partials part[k·C + c], in block order, scaled by s. */
static void combine(const float *part, int64_t blocks, int64_t C, float s, float *out) {
  for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
  for (int64_t k = 0; k < blocks; k++)
    for (int64_t c = 0; c < C; c++) out[c] += part[k * C + c];
  for (int64_t c = 0; c < C; c++) out[c] *= s;
}

/* mean, var[C] of x[R, C] (two passes as tf.moments: the mean, then the mean squared deviation); part: blocks·C floats. */
static void channel_stats(const float *x, int64_t R, int64_t C, float *part, float *mean, float *var) {
  const int64_t rb = rows_per_block(C), blocks = (R + rb - 1) / rb;
  const int par = R * C >= PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t k = 0; k < blocks; k++) {
    const int64_t r0 = k * rb, r1 = r0 + rb < R ? r0 + rb : R;
    col_sums(x + r0 * C, r1 - r0, C, NULL, part + k * C);
  }
  combine(part, blocks, C, 1.0f / (float)R, mean);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t k = 0; k < blocks; k++) {
    const int64_t r0 = k * rb, r1 = r0 + rb < R ? r0 + rb : R;
    col_sums(x + r0 * C, r1 - r0, C, mean, part + k * C);
  }
  combine(part, blocks, C, 1.0f / (float)R, var);
}

/*
 * batchNormTrain(heap, R, C, xOff, gammaOff, betaOff, yOff, meanOff, varOff, eps):
 * mean, var = batch mean and biased variance per channel; y = (x − mean)/√(var + eps)·γ + β.
 */
static napi_value batch_norm_train(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t v[8];
  double eps;
  if (!parse_heap_args(env, info, 10, a, &heap, &len, v, 8)) return NULL;
  if (!double_arg(env, a[9], &eps)) return NULL;
  const int64_t R = v[0], C = v[1];
  if (R < 1 || C < 1) return napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: batchNormTrain needs rows and channels"), NULL;
  if (!heap_range_ok(env, len, v[2], R * C) || !heap_range_ok(env, len, v[3], C) || !heap_range_ok(env, len, v[4], C) || !heap_range_ok(env, len, v[5], R * C) ||
      !heap_range_ok(env, len, v[6], C) || !heap_range_ok(env, len, v[7], C))
    return NULL;
  const float *x = heap + v[2], *g = heap + v[3], *b = heap + v[4];
  float *y = heap + v[5], *mean = heap + v[6], *var = heap + v[7];
  const int64_t rb = rows_per_block(C), blocks = (R + rb - 1) / rb;
  float *part = (float *)malloc(sizeof(float) * (size_t)(blocks * C + C));
  if (!part) return napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in batchNormTrain"), NULL;
  float *rstd = part + blocks * C;
  const int par = R * C >= PAR_MIN;
  channel_stats(x, R, C, part, mean, var);
  for (int64_t c = 0; c < C; c++) rstd[c] = 1.0f / sqrtf(var[c] + (float)eps);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t k = 0; k < blocks; k++) {
    const int64_t r0 = k * rb, r1 = r0 + rb < R ? r0 + rb : R;
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < C; c++) y[r * C + c] = (x[r * C + c] - mean[c]) * rstd[c] * g[c] + b[c];
  }
  free(part);
  return NULL;
}

/*
 * batchNormTrainGrad(heap, R, C, dyOff, xOff, gammaOff, meanOff, varOff, dxOff, dGammaOff, dBetaOff, eps):
 * x̂ = (x − mean)·rstd; dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·rstd·(dy − dβ/R − x̂·dγ/R) (the batch statistics' own
 * gradient included, as autodiff through the composition gives).
 */
static napi_value batch_norm_train_grad(napi_env env, napi_callback_info info) {
  napi_value a[12];
  float *heap;
  size_t len;
  int64_t v[10];
  double eps;
  if (!parse_heap_args(env, info, 12, a, &heap, &len, v, 10)) return NULL;
  if (!double_arg(env, a[11], &eps)) return NULL;
  const int64_t R = v[0], C = v[1];
  if (R < 1 || C < 1) return napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: batchNormTrainGrad needs rows and channels"), NULL;
  if (!heap_range_ok(env, len, v[2], R * C) || !heap_range_ok(env, len, v[3], R * C) || !heap_range_ok(env, len, v[4], C) || !heap_range_ok(env, len, v[5], C) ||
      !heap_range_ok(env, len, v[6], C) || !heap_range_ok(env, len, v[7], R * C) || !heap_range_ok(env, len, v[8], C) || !heap_range_ok(env, len, v[9], C))
    return NULL;
  const float *dy = heap + v[2], *x = heap + v[3], *g = heap + v[4], *mean = heap + v[5], *var = heap + v[6];
  float *dx = heap + v[7], *dg = heap + v[8], *db = heap + v[9];
  const int64_t rb = rows_per_block(C), blocks = (R + rb - 1) / rb;
  float *part = (float *)malloc(sizeof(float) * (size_t)(2 * blocks * C + 3 * C));
  if (!part) return napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in batchNormTrainGrad"), NULL;
  float *pg = part, *pb = part + blocks * C, *rstd = pb + blocks * C, *k1 = rstd + C, *k2 = k1 + C;
  for (int64_t c = 0; c < C; c++) rstd[c] = 1.0f / sqrtf(var[c] + (float)eps);
  const int par = R * C >= PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t k = 0; k < blocks; k++) {
    const int64_t r0 = k * rb, r1 = r0 + rb < R ? r0 + rb : R;
    float *sg = pg + k * C, *sb = pb + k * C;
    for (int64_t c = 0; c < C; c++) sg[c] = sb[c] = 0.0f;
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < C; c++) {
        const float d = dy[r * C + c];
        sb[c] += d;
        sg[c] += d * ((x[r * C + c] - mean[c]) * rstd[c]);
      }
  }
  combine(pg, blocks, C, 1.0f, dg);
  combine(pb, blocks, C, 1.0f, db);
  for (int64_t c = 0; c < C; c++) {
    k1[c] = db[c] / (float)R;
    k2[c] = dg[c] / (float)R;
  }
#pragma omp parallel for schedule(static) if (par)
  for (int64_t k = 0; k < blocks; k++) {
    const int64_t r0 = k * rb, r1 = r0 + rb < R ? r0 + rb : R;
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < C; c++) {
        const float xh = (x[r * C + c] - mean[c]) * rstd[c];
        dx[r * C + c] = g[c] * rstd[c] * (dy[r * C + c] - k1[c] - xh * k2[c]);
      }
  }
  free(part);
  return NULL;
}

/* channelMoments(heap, R, C, xOff, meanOff, varOff): per-channel mean and biased variance over the R rows. */
static napi_value channel_moments(napi_env env, napi_callback_info info) {
  napi_value a[6];
  float *heap;
  size_t len;
  int64_t v[5];
  if (!parse_heap_args(env, info, 6, a, &heap, &len, v, 5)) return NULL;
  const int64_t R = v[0], C = v[1];
  if (R < 1 || C < 1) return napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: channelMoments needs rows and channels"), NULL;
  if (!heap_range_ok(env, len, v[2], R * C) || !heap_range_ok(env, len, v[3], C) || !heap_range_ok(env, len, v[4], C)) return NULL;
  const int64_t rb = rows_per_block(C), blocks = (R + rb - 1) / rb;
  float *part = (float *)malloc(sizeof(float) * (size_t)(blocks * C));
  if (!part) return napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in channelMoments"), NULL;
  channel_stats(heap + v[2], R, C, part, heap + v[3], heap + v[4]);
  free(part);
  return NULL;
}

/* channelMomentsGrad(heap, R, C, dMeanOff, dVarOff, xOff, meanOff, dxOff): dx = dMean/R + dVar·2(x − mean)/R. */
static napi_value channel_moments_grad(napi_env env, napi_callback_info info) {
  napi_value a[8];
  float *heap;
  size_t len;
  int64_t v[7];
  if (!parse_heap_args(env, info, 8, a, &heap, &len, v, 7)) return NULL;
  const int64_t R = v[0], C = v[1];
  if (R < 1 || C < 1) return napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: channelMomentsGrad needs rows and channels"), NULL;
  if (!heap_range_ok(env, len, v[2], C) || !heap_range_ok(env, len, v[3], C) || !heap_range_ok(env, len, v[4], R * C) || !heap_range_ok(env, len, v[5], C) ||
      !heap_range_ok(env, len, v[6], R * C))
    return NULL;
  const float *dm = heap + v[2], *dv = heap + v[3], *x = heap + v[4], *mean = heap + v[5];
  float *dx = heap + v[6];
  float *k = (float *)malloc(sizeof(float) * (size_t)(2 * C));
  if (!k) return napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in channelMomentsGrad"), NULL;
  float *a0 = k, *a1 = k + C;
  for (int64_t c = 0; c < C; c++) {
    a0[c] = dm[c] / (float)R;
    a1[c] = 2.0f * dv[c] / (float)R;
  }
  const int64_t rb = rows_per_block(C), blocks = (R + rb - 1) / rb;
#pragma omp parallel for schedule(static) if (R * C >= PAR_MIN)
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t r0 = b * rb, r1 = r0 + rb < R ? r0 + rb : R;
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < C; c++) dx[r * C + c] = a0[c] + a1[c] * (x[r * C + c] - mean[c]);
  }
  free(k);
  return NULL;
}

/*
 * featureStatistics(heap, N, P, C, xOff, meanOff, varOff, instOff): x is [N, P, C] (P = H·W); inst[n, c] = mean of
 * x[n, ·, c]; mean[c] = mean of inst[·, c]; var[c] = Σ (x − mean)² / (N·P). Each sample's sums are its own (taken
 * on whichever thread) and added in sample order, so the bits do not depend on the thread count.
 */
static napi_value feature_statistics(napi_env env, napi_callback_info info) {
  napi_value a[8];
  float *heap;
  size_t len;
  int64_t v[7];
  if (!parse_heap_args(env, info, 8, a, &heap, &len, v, 7)) return NULL;
  const int64_t N = v[0], P = v[1], C = v[2];
  if (N < 1 || P < 1 || C < 1) return napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: featureStatistics needs samples, positions and channels"), NULL;
  if (!heap_range_ok(env, len, v[3], N * P * C) || !heap_range_ok(env, len, v[4], C) || !heap_range_ok(env, len, v[5], C) || !heap_range_ok(env, len, v[6], N * C)) return NULL;
  const float *x = heap + v[3];
  float *mean = heap + v[4], *var = heap + v[5], *inst = heap + v[6];
  float *part = (float *)malloc(sizeof(float) * (size_t)(N * C));
  if (!part) return napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in featureStatistics"), NULL;
  const int par = N > 1 && N * P * C >= PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t n = 0; n < N; n++) {
    col_sums(x + n * P * C, P, C, NULL, inst + n * C);
    for (int64_t c = 0; c < C; c++) inst[n * C + c] /= (float)P;
  }
  combine(inst, N, C, 1.0f / (float)N, mean);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t n = 0; n < N; n++) col_sums(x + n * P * C, P, C, mean, part + n * C);
  combine(part, N, C, 1.0f / (float)(N * P), var);
  free(part);
  return NULL;
}

/*
 * featureStatisticsGrad(heap, N, P, C, dMeanOff, dVarOff, dInstOff, xOff, meanOff, dxOff):
 * dx[n, p, c] = dMean[c]/(N·P) + 2·dVar[c]·(x − mean[c])/(N·P) + dInst[n, c]/P.
 */
static napi_value feature_statistics_grad(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t v[9];
  if (!parse_heap_args(env, info, 10, a, &heap, &len, v, 9)) return NULL;
  const int64_t N = v[0], P = v[1], C = v[2], R = N * P;
  if (N < 1 || P < 1 || C < 1) return napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: featureStatisticsGrad needs samples, positions and channels"), NULL;
  if (!heap_range_ok(env, len, v[3], C) || !heap_range_ok(env, len, v[4], C) || !heap_range_ok(env, len, v[5], N * C) || !heap_range_ok(env, len, v[6], R * C) ||
      !heap_range_ok(env, len, v[7], C) || !heap_range_ok(env, len, v[8], R * C))
    return NULL;
  const float *dm = heap + v[3], *dv = heap + v[4], *di = heap + v[5], *x = heap + v[6], *mean = heap + v[7];
  float *dx = heap + v[8];
  float *a1 = (float *)malloc(sizeof(float) * (size_t)C);
  if (!a1) return napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in featureStatisticsGrad"), NULL;
  for (int64_t c = 0; c < C; c++) a1[c] = 2.0f * dv[c] / (float)R;
#pragma omp parallel for schedule(static) if (N > 1 && R * C >= PAR_MIN)
  for (int64_t n = 0; n < N; n++) {
    /* this sample's constant part, dMean/R + dInst/P, for up to 256 channels at a time (on this thread's stack) */
    float shift[256];
    for (int64_t c0 = 0; c0 < C; c0 += 256) {
      const int64_t c1 = c0 + 256 < C ? c0 + 256 : C;
      for (int64_t c = c0; c < c1; c++) shift[c - c0] = dm[c] / (float)R + di[n * C + c] / (float)P;
      for (int64_t p = 0; p < P; p++) {
        const float *xr = x + (n * P + p) * C;
        float *dr = dx + (n * P + p) * C;
        for (int64_t c = c0; c < c1; c++) dr[c] = shift[c - c0] + a1[c] * (xr[c] - mean[c]);
      }
    }
  }
  free(a1);
  return NULL;
}

napi_value promptkd_register_batch_norm_train(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"batchNormTrain", NULL, batch_norm_train, NULL, NULL, NULL, napi_default, NULL},
      {"channelMoments", NULL, channel_moments, NULL, NULL, NULL, napi_default, NULL},
      {"channelMomentsGrad", NULL, channel_moments_grad, NULL, NULL, NULL, napi_default, NULL},
      {"batchNormTrainGrad", NULL, batch_norm_train_grad, NULL, NULL, NULL, napi_default, NULL},
      {"featureStatistics", NULL, feature_statistics, NULL, NULL, NULL, napi_default, NULL},
      {"featureStatisticsGrad", NULL, feature_statistics_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
