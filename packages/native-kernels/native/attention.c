/*
 * Multi-head scaled dot-product attention of promptkd's native addon, forward and backward, for batches of small
 * heads (the ViTs of the CPU studies: 17–30 tokens, heads of 8–16 channels), in one pass per head instead of the
 * head split and merge (transposes), the scale, two products, softmax and their gradients as separate kernels. Heads
 * are read and written where they lie: column blocks of the [N, L, D] tensors. Same conventions as fused.c: in place on the wasm
 * heap, offsets in floats, float32 arithmetic; each head is one work item summed in a fixed order, so results are
 * bit-identical for any thread count.
 *
 *   S = (s·Q)·Kᵀ,  P = softmax(S) by rows,  O = P·V          (Q [Lq, d], K and V [Lk, d], s the scale)
 *   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(P ⊙ dP)),  dQ = s·dS·K,  dK = dSᵀ·(s·Q)
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "clones.h"
#include "mathf.h"
#include "napi_args.h"

/* Multiply-adds of a call from which its heads are split over the threads. */
#define ATTN_PAR_MIN (1 << 18)

/* kt [d, lk] = kᵀ of the head's k rows (row stride sk): the products below then run along contiguous rows. */
static void transpose_head(const float *restrict k, int64_t sk, float *restrict kt, int64_t lk, int64_t d) {
  for (int64_t j = 0; j < lk; j++)
    for (int64_t c = 0; c < d; c++) kt[c * lk + j] = k[j * sk + c];
}

/* Query rows per block: their accumulations are independent, so the loops below interleave RB dependency chains. */
#define RB 4

/*
 * One head forward: P [Lq, Lk] (contiguous) and O. The head's rows of q, k, v and o are `d` floats each, `s` apart
 * (the width of the [N, L, D] tensor they are a column block of); kt is scratch of Lk·d floats.
 */
CLONES static void attention_head(const float *restrict q, const float *restrict k, const float *restrict v, float *restrict o, float *restrict p,
                                  float *restrict kt, int64_t lq, int64_t lk, int64_t d, int64_t s, float scale) {
  transpose_head(k, s, kt, lk, d);
  for (int64_t i0 = 0; i0 < lq; i0 += RB) {
    const int64_t rb = lq - i0 < RB ? lq - i0 : RB;
    float *restrict pb = p + i0 * lk;
    for (int64_t j = 0; j < rb * lk; j++) pb[j] = 0.0f;
    for (int64_t c = 0; c < d; c++) {
      const float *restrict ktc = kt + c * lk;
      for (int64_t r = 0; r < rb; r++) {
        const float qc = scale * q[(i0 + r) * s + c];
        float *restrict pr = pb + r * lk;
        for (int64_t j = 0; j < lk; j++) pr[j] += qc * ktc[j];
      }
    }
    for (int64_t r = 0; r < rb; r++) {
      float *restrict pr = pb + r * lk;
      float m = -INFINITY;
      for (int64_t j = 0; j < lk; j++) m = pr[j] > m ? pr[j] : m;
      for (int64_t j = 0; j < lk; j++) pr[j] = exp_f(pr[j] - m);
      float sum = 0.0f;
      for (int64_t j = 0; j < lk; j++) sum += pr[j];
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < lk; j++) pr[j] *= inv;
    }
    for (int64_t r = 0; r < rb; r++) {
      float *restrict or_ = o + (i0 + r) * s;
      for (int64_t c = 0; c < d; c++) or_[c] = 0.0f;
    }
    for (int64_t j = 0; j < lk; j++) {
      const float *restrict vj = v + j * s;
      for (int64_t r = 0; r < rb; r++) {
        const float prj = pb[r * lk + j];
        float *restrict or_ = o + (i0 + r) * s;
        for (int64_t c = 0; c < d; c++) or_[c] += prj * vj[c];
      }
    }
  }
}

/* One head backward: dQ, dK, dV (strided like q, k, v); scratch holds Vᵀ (Lk·d floats) and RB rows of dS (RB·Lk). */
CLONES static void attention_head_grad(const float *restrict dout, const float *restrict q, const float *restrict k, const float *restrict v,
                                       const float *restrict p, float *restrict dq, float *restrict dk, float *restrict dv, float *restrict scratch, int64_t lq,
                                       int64_t lk, int64_t d, int64_t s, float scale) {
  float *restrict vt = scratch, *restrict ds = scratch + lk * d;
  transpose_head(v, s, vt, lk, d);
  for (int64_t j = 0; j < lk; j++)
    for (int64_t c = 0; c < d; c++) dk[j * s + c] = dv[j * s + c] = 0.0f;
  for (int64_t i0 = 0; i0 < lq; i0 += RB) {
    const int64_t rb = lq - i0 < RB ? lq - i0 : RB;
    const float *restrict pb = p + i0 * lk;
    /* dP rows = dO rows·Vᵀ */
    for (int64_t j = 0; j < rb * lk; j++) ds[j] = 0.0f;
    for (int64_t c = 0; c < d; c++) {
      const float *restrict vtc = vt + c * lk;
      for (int64_t r = 0; r < rb; r++) {
        const float g = dout[(i0 + r) * s + c];
        float *restrict dr = ds + r * lk;
        for (int64_t j = 0; j < lk; j++) dr[j] += g * vtc[j];
      }
    }
    /* dS = P ⊙ (dP − rowsum(P ⊙ dP)) */
    for (int64_t r = 0; r < rb; r++) {
      const float *restrict pr = pb + r * lk;
      float *restrict dr = ds + r * lk;
      float dot = 0.0f;
      for (int64_t j = 0; j < lk; j++) dot += pr[j] * dr[j];
      for (int64_t j = 0; j < lk; j++) dr[j] = pr[j] * (dr[j] - dot);
    }
    for (int64_t r = 0; r < rb; r++) {
      float *restrict dqr = dq + (i0 + r) * s;
      for (int64_t c = 0; c < d; c++) dqr[c] = 0.0f;
    }
    for (int64_t j = 0; j < lk; j++) {
      const float *restrict kj = k + j * s;
      float *restrict dkj = dk + j * s, *restrict dvj = dv + j * s;
      for (int64_t r = 0; r < rb; r++) {
        const float sij = ds[r * lk + j], pij = pb[r * lk + j];
        const float *restrict qr = q + (i0 + r) * s, *restrict dor = dout + (i0 + r) * s;
        float *restrict dqr = dq + (i0 + r) * s;
        for (int64_t c = 0; c < d; c++) {
          dqr[c] += sij * kj[c];
          dkj[c] += sij * (scale * qr[c]);
          dvj[c] += pij * dor[c];
        }
      }
    }
    for (int64_t r = 0; r < rb; r++) {
      float *restrict dqr = dq + (i0 + r) * s;
      for (int64_t c = 0; c < d; c++) dqr[c] *= scale;
    }
  }
}

/* v = [N, H, Lq, Lk, D]: N ≥ 0, the rest ≥ 1, H divides D. */
static int attention_sizes_ok(napi_env env, const int64_t *v, const char *fn) {
  if (v[0] < 0 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[4] < 1 || v[4] % v[1] != 0) {
    napi_throw_range_error(env, PROMPTKD_CODE, fn);
    return 0;
  }
  return 1;
}

/*
 * attention(heap, N, H, Lq, Lk, D, qOff, kOff, vOff, oOff, pOff, scale): q and o [N, Lq, D], k and v [N, Lk, D], heads
 * the H column blocks of d = D/H; per head O = softmax((s·Q)·Kᵀ)·V written into o's column block, P [N, H, Lq, Lk] kept.
 */
static napi_value attention(napi_env env, napi_callback_info info) {
  napi_value a[12];
  float *heap;
  size_t len;
  int64_t v[10];
  double scale;
  if (!parse_heap_args(env, info, 12, a, &heap, &len, v, 10)) return NULL;
  if (!double_arg(env, a[11], &scale)) return NULL;
  if (!attention_sizes_ok(env, v, "promptkd native: attention needs N ≥ 0, H, Lq, Lk, D ≥ 1 and H dividing D")) return NULL;
  const int64_t n = v[0], h = v[1], lq = v[2], lk = v[3], dm = v[4], d = dm / h, b = n * h;
  if (!heap_range_ok(env, len, v[5], n * lq * dm) || !heap_range_ok(env, len, v[6], n * lk * dm) || !heap_range_ok(env, len, v[7], n * lk * dm) ||
      !heap_range_ok(env, len, v[8], n * lq * dm) || !heap_range_ok(env, len, v[9], b * lq * lk))
    return NULL;
  const float *q = heap + v[5], *k = heap + v[6], *vv = heap + v[7];
  float *o = heap + v[8], *p = heap + v[9];
  float *scratch = (float *)malloc(sizeof(float) * (size_t)(b > 0 ? b * lk * d : 1));
  if (!scratch) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for attention");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (b * lq * lk * d >= ATTN_PAR_MIN)
  for (int64_t t = 0; t < b; t++) {
    const int64_t i = t / h, c = (t - i * h) * d;
    attention_head(q + i * lq * dm + c, k + i * lk * dm + c, vv + i * lk * dm + c, o + i * lq * dm + c, p + t * lq * lk, scratch + t * lk * d, lq, lk, d, dm,
                   (float)scale);
  }
  free(scratch);
  return NULL;
}

/* attentionGrad(heap, N, H, Lq, Lk, D, dOOff, qOff, kOff, vOff, pOff, dqOff, dkOff, dvOff, scale): layouts as attention's. */
static napi_value attention_grad(napi_env env, napi_callback_info info) {
  napi_value a[15];
  float *heap;
  size_t len;
  int64_t v[13];
  double scale;
  if (!parse_heap_args(env, info, 15, a, &heap, &len, v, 13)) return NULL;
  if (!double_arg(env, a[14], &scale)) return NULL;
  if (!attention_sizes_ok(env, v, "promptkd native: attentionGrad needs N ≥ 0, H, Lq, Lk, D ≥ 1 and H dividing D")) return NULL;
  const int64_t n = v[0], h = v[1], lq = v[2], lk = v[3], dm = v[4], d = dm / h, b = n * h;
  const int64_t nq = n * lq * dm, nk = n * lk * dm;
  if (!heap_range_ok(env, len, v[5], nq) || !heap_range_ok(env, len, v[6], nq) || !heap_range_ok(env, len, v[7], nk) || !heap_range_ok(env, len, v[8], nk) ||
      !heap_range_ok(env, len, v[9], b * lq * lk) || !heap_range_ok(env, len, v[10], nq) || !heap_range_ok(env, len, v[11], nk) || !heap_range_ok(env, len, v[12], nk))
    return NULL;
  const int64_t per = lk * d + RB * lk; /* Vᵀ and RB rows of dS per head */
  float *scratch = (float *)malloc(sizeof(float) * (size_t)(b > 0 ? b * per : 1));
  if (!scratch) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the attention gradient");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (b * lq * lk * d >= ATTN_PAR_MIN)
  for (int64_t t = 0; t < b; t++) {
    const int64_t i = t / h, c = (t - i * h) * d, qo = i * lq * dm + c, ko = i * lk * dm + c;
    attention_head_grad(heap + v[5] + qo, heap + v[6] + qo, heap + v[7] + ko, heap + v[8] + ko, heap + v[9] + t * lq * lk, heap + v[10] + qo, heap + v[11] + ko,
                        heap + v[12] + ko, scratch + t * per, lq, lk, d, dm, (float)scale);
  }
  free(scratch);
  return NULL;
}

napi_value promptkd_register_attention(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"attention", NULL, attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
