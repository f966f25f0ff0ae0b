/*
 * Multi-head self-attention from a packed qkv tensor (the output of a ViT block's one qkv projection, timm's layout:
 * columns [q | k | v], head h the column block [h·d, (h+1)·d) of each), forward and backward, in one call each.
 *
 * Composed, the attention of a ViT step is a reshape and transpose of qkv to [3, N, H, L, d], a split, the scale, two
 * batched products, softmax, a transpose back, and in the backward the same again with a concat of dq, dk and dv
 * (about 17 kernels and five full copies of the activations per block). Here each (sample, head) pair is one work
 * item that reads its q, k and v where they lie in qkv (rows 3D floats apart) and writes its output and gradients
 * where they belong: the products on SGEMM with those strides for heads of 32 and more, attention.c's per-head loops
 * for narrower ones. Same conventions as attention.c: in place on the wasm heap, offsets in floats, float32
 * arithmetic, each work item on one thread in an order fixed by the shapes, so results are bit-identical for any
 * thread count.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"
#include "mathf.h"
#include "napi_args.h"
#include "shared_loops.h"

/* Multiply-adds (of one of the two products) of a call from which its work items are split over the threads. */
#define QKV_PAR_MIN (1 << 22)

/*
 * Heads at least this wide run their products on SGEMM; narrower ones on attention.c's per-head loops, which keep a
 * row of the head in registers. Per call on a 2 vCPU AMD EPYC (scripts/bench/attention-call.ts): heads of 64 ([32, 65,
 * 192], 3 heads) forward 1375 / 1412 → 1070 / 1156 µs and gradient 3220 / 3035 → 1504 / 1509 µs on SGEMM; heads of
 * 16 ([64, 17, 64], 4 heads) forward 457 / 447 against 490 / 438 µs and gradient 429 / 390 against 608 / 595 µs,
 * the loops ahead.
 */
#define GEMM_MIN_D 32

/* v = [N, H, L, D]: N ≥ 0, the rest ≥ 1, H divides D. */
static int qkv_sizes_ok(napi_env env, const int64_t *v, const char *fn) {
  if (v[0] < 0 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[3] % v[1] != 0) {
    napi_throw_range_error(env, PROMPTKD_CODE, fn);
    return 0;
  }
  return 1;
}

/* `rows` rows of `cols` floats from src (rows `ss` apart) to dst (rows `ds` apart). */
static void copy_rows(const float *src, int64_t ss, float *dst, int64_t ds, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < rows; j++) memcpy(dst + j * ds, src + j * ss, sizeof(float) * (size_t)cols);
}

/* P = softmax of each row of S [L, L], in place. */
CLONES static void softmax_rows(float *restrict p, int64_t l) {
  for (int64_t i = 0; i < l; i++) {
    float *restrict pi = p + i * l;
    float m = -INFINITY;
    for (int64_t j = 0; j < l; j++) m = pi[j] > m ? pi[j] : m;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < l; j++) {
      pi[j] = exp_f(pi[j] - m);
      sum += pi[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < l; j++) pi[j] *= inv;
  }
}

/* dS = P ⊙ (dP − rowsum(P ⊙ dP)), in place of dP (softmax's input gradient), [L, L]. */
CLONES static void softmax_grad_rows(const float *restrict p, float *restrict ds, int64_t l) {
  for (int64_t i = 0; i < l; i++) {
    const float *restrict pi = p + i * l;
    float *restrict di = ds + i * l;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < l; j++) dot += pi[j] * di[j];
#pragma omp simd
    for (int64_t j = 0; j < l; j++) di[j] = pi[j] * (di[j] - dot);
  }
}

/*
 * qkvAttention(heap, N, H, L, D, qkvOff, oOff, pOff, scale): qkv [N, L, 3D] in; o [N, L, D] (head h's softmax((s·Q)·Kᵀ)·V
 * in its column block) and the attention P [N, H, L, L], kept for the gradient, out. Per (sample, head):
 *   S = s·Q·Kᵀ,  P = softmax(S) by rows,  O = P·V
 * for heads of GEMM_MIN_D and more the products on the SGEMM of promptkd_thread_sgemm, reading Q, K, V in place (rows
 * 3D floats apart) and writing O into its column block; for narrower heads attention.c's loops.
 */
static napi_value qkv_attention(napi_env env, napi_callback_info info) {
  napi_value a[9];
  float *heap;
  size_t len;
  int64_t v[7];
  double scale;
  if (!parse_heap_args(env, info, 9, a, &heap, &len, v, 7)) return NULL;
  if (!double_arg(env, a[8], &scale)) return NULL;
  if (!qkv_sizes_ok(env, v, "promptkd native: qkvAttention needs N ≥ 0, H, L, D ≥ 1 and H dividing D")) return NULL;
  const int64_t n = v[0], h = v[1], l = v[2], dm = v[3], d = dm / h, items = n * h;
  if (!heap_range_ok(env, len, v[4], n * l * 3 * dm) || !heap_range_ok(env, len, v[5], n * l * dm) || !heap_range_ok(env, len, v[6], items * l * l)) return NULL;
  const float *qkv = heap + v[4];
  float *o = heap + v[5], *p = heap + v[6];
  const int gemm = d >= GEMM_MIN_D;
  int failed = 0;
#pragma omp parallel if (items * l * l * d >= QKV_PAR_MIN)
  {
    /* the loops' scratch: a head's output rows, 3D floats apart as its inputs, then Kᵀ */
    float *scratch = gemm ? NULL : promptkd_thread_scratch((size_t)(l * 3 * dm + promptkd_attention_head_scratch(l, d)), &failed);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < items; t++) {
      if (!gemm && !scratch) continue;
      const int64_t i = t / h, c = (t - i * h) * d;
      const float *q = qkv + i * l * 3 * dm + c;
      float *pt = p + t * l * l, *ot = o + i * l * dm + c;
      if (gemm) {
        promptkd_thread_sgemm(0, 1, l, l, d, (float)scale, q, 3 * dm, q + dm, 3 * dm, 0.0f, pt, l);
        softmax_rows(pt, l);
        promptkd_thread_sgemm(0, 0, l, d, l, 1.0f, pt, l, q + 2 * dm, 3 * dm, 0.0f, ot, dm);
      } else {
        promptkd_attention_head(q, q + dm, q + 2 * dm, scratch, pt, scratch + l * 3 * dm, l, l, d, 3 * dm, (float)scale);
        copy_rows(scratch, 3 * dm, ot, dm, l, d);
      }
    }
    free(scratch);
  }
  if (failed) napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the qkv attention");
  return NULL;
}

/*
 * qkvAttentionGrad(heap, N, H, L, D, dyOff, qkvOff, pOff, dqkvOff, scale): dy [N, L, D] in, dqkv [N, L, 3D] out. Per
 * (sample, head), with dO the head's block of dy:
 *   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(P ⊙ dP)),  dQ = s·dS·K,  dK = s·dSᵀ·Q
 */
static napi_value qkv_attention_grad(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t v[8];
  double scale;
  if (!parse_heap_args(env, info, 10, a, &heap, &len, v, 8)) return NULL;
  if (!double_arg(env, a[9], &scale)) return NULL;
  if (!qkv_sizes_ok(env, v, "promptkd native: qkvAttentionGrad needs N ≥ 0, H, L, D ≥ 1 and H dividing D")) return NULL;
  const int64_t n = v[0], h = v[1], l = v[2], dm = v[3], d = dm / h, items = n * h;
  if (!heap_range_ok(env, len, v[4], n * l * dm) || !heap_range_ok(env, len, v[5], n * l * 3 * dm) || !heap_range_ok(env, len, v[6], items * l * l) ||
      !heap_range_ok(env, len, v[7], n * l * 3 * dm))
    return NULL;
  const float *dy = heap + v[4], *qkv = heap + v[5], *p = heap + v[6];
  float *dqkv = heap + v[7];
  const int gemm = d >= GEMM_MIN_D;
  int failed = 0;
#pragma omp parallel if (items * l * l * d >= QKV_PAR_MIN)
  {
    /* dS [L, L]; for the loops also the head's dy rows 3D floats apart and Vᵀ */
    float *ds = promptkd_thread_scratch((size_t)(l * l + (gemm ? 0 : l * 3 * dm + promptkd_attention_head_scratch(l, d))), &failed);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < items; t++) {
      if (!ds) continue;
      const int64_t i = t / h, c = (t - i * h) * d, r = i * l * 3 * dm + c, ld = 3 * dm;
      const float *q = qkv + r, *k = q + dm, *vv = q + 2 * dm, *pt = p + t * l * l, *g = dy + i * l * dm + c;
      float *dq = dqkv + r, *dk = dq + dm, *dv = dq + 2 * dm;
      if (gemm) {
        promptkd_thread_sgemm(1, 0, l, d, l, 1.0f, pt, l, g, dm, 0.0f, dv, ld);
        promptkd_thread_sgemm(0, 1, l, l, d, 1.0f, g, dm, vv, ld, 0.0f, ds, l);
        softmax_grad_rows(pt, ds, l);
        promptkd_thread_sgemm(0, 0, l, d, l, (float)scale, ds, l, k, ld, 0.0f, dq, ld);
        promptkd_thread_sgemm(1, 0, l, d, l, (float)scale, ds, l, q, ld, 0.0f, dk, ld);
      } else {
        float *gt = ds + l * l, *vt = gt + l * 3 * dm;
        copy_rows(g, dm, gt, ld, l, d);
        promptkd_attention_head_grad(gt, q, k, vv, pt, dq, dk, dv, ds, vt, l, l, d, ld, (float)scale);
      }
    }
    free(ds);
  }
  if (failed) napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the qkv attention gradient");
  return NULL;
}

napi_value promptkd_register_qkv_attention(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"qkvAttention", NULL, qkv_attention, NULL, NULL, NULL, napi_default, NULL},
      {"qkvAttentionGrad", NULL, qkv_attention_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
