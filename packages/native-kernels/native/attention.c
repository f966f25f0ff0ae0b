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
#include "shared_loops.h"

/*
 * Multiply-adds (of one of the two products) of a call from which its heads are split over the threads. Below it one
 * thread runs them all: in the KDP student step (1.3 M multiply-adds per teacher call) the threaded calls took
 * about twice as long as one thread (waking the second thread, and a worker descheduled by the step's other work).
 */
#define ATTN_PAR_MIN (1 << 22)

/*
 * Per-head loops. Every output row is accumulated in registers and written once (a row of d = 16 floats is one
 * AVX-512 register: the loops over c are marked `omp simd`, without which the compiler unrolled them into d scalar
 * multiply-adds); the products with Kᵀ and Vᵀ run on a transposed copy of the head, vectorised over its rows, so no
 * dot product ends in a horizontal sum (every sum is taken over c in order, fixed by the shapes alone); and the head
 * width d is a compile-time constant in the specialised versions below (SPECIALISED).
 * A [64, 17, 64] call of 4 heads (the KDP student's teacher) on a 2 vCPU AMD EPYC: 564–588 → 432–449 µs forward,
 * 529–547 → 411–449 µs backward (scripts/bench/attention-call.ts; scripts/bench/README.md).
 * Rows of q, k, v, o and their gradients are `s` floats apart; P and dS are contiguous [Lq, Lk].
 */

/* Columns of a transposed head are padded to a multiple of JB (one AVX-512 register of floats) with zeros. */
#define JB 16
static inline int64_t padded(int64_t l) { return (l + JB - 1) / JB * JB; }

/* xt [d, padded(l)] = the head's rows x_j (`s` floats apart) as columns, zero beyond l. */
static inline __attribute__((always_inline)) void head_transpose(const float *restrict x, float *restrict xt, int64_t l, int64_t d, int64_t s) {
  const int64_t ld = padded(l);
  for (int64_t c = 0; c < d; c++)
    for (int64_t j = l; j < ld; j++) xt[c * ld + j] = 0.0f;
  for (int64_t j = 0; j < l; j++)
    for (int64_t c = 0; c < d; c++) xt[c * ld + j] = x[j * s + c];
}

/*
 * out[i, j] = ⟨a_i, x_j⟩ for `rows` rows a_i (`s` floats apart) and the l columns of xt (head_transpose): JB columns
 * of up to four rows at a time in registers, one multiply-add per row and c, each sum taken over c in order (so the
 * result depends on the shapes alone) — no dot product ends in a horizontal sum, and no partial sum goes through
 * memory. out rows are `lo` floats apart.
 */
static inline __attribute__((always_inline)) void rows_times_columns(const float *restrict a, int64_t s, int64_t rows, const float *restrict xt,
                                                                    float *restrict out, int64_t lo, int64_t l, int64_t d) {
  const int64_t ld = padded(l);
  for (int64_t j0 = 0; j0 < l; j0 += JB) {
    const int64_t w = l - j0 < JB ? l - j0 : JB;
    int64_t i = 0;
    for (; i + 4 <= rows; i += 4) {
      float acc0[JB], acc1[JB], acc2[JB], acc3[JB];
#pragma omp simd
      for (int jj = 0; jj < JB; jj++) acc0[jj] = acc1[jj] = acc2[jj] = acc3[jj] = 0.0f;
      const float *restrict a0 = a + i * s, *restrict a1 = a0 + s, *restrict a2 = a1 + s, *restrict a3 = a2 + s;
      for (int64_t c = 0; c < d; c++) {
        const float *restrict xc = xt + c * ld + j0;
        const float b0 = a0[c], b1 = a1[c], b2 = a2[c], b3 = a3[c];
#pragma omp simd
        for (int jj = 0; jj < JB; jj++) {
          acc0[jj] += b0 * xc[jj];
          acc1[jj] += b1 * xc[jj];
          acc2[jj] += b2 * xc[jj];
          acc3[jj] += b3 * xc[jj];
        }
      }
      for (int64_t jj = 0; jj < w; jj++) {
        out[i * lo + j0 + jj] = acc0[jj];
        out[(i + 1) * lo + j0 + jj] = acc1[jj];
        out[(i + 2) * lo + j0 + jj] = acc2[jj];
        out[(i + 3) * lo + j0 + jj] = acc3[jj];
      }
    }
    for (; i < rows; i++) {
      float acc[JB];
#pragma omp simd
      for (int jj = 0; jj < JB; jj++) acc[jj] = 0.0f;
      const float *restrict ai = a + i * s;
      for (int64_t c = 0; c < d; c++) {
        const float *restrict xc = xt + c * ld + j0;
        const float b = ai[c];
#pragma omp simd
        for (int jj = 0; jj < JB; jj++) acc[jj] += b * xc[jj];
      }
      for (int64_t jj = 0; jj < w; jj++) out[i * lo + j0 + jj] = acc[jj];
    }
  }
}

/* S[i, j] = scale·⟨q_i, k_j⟩, then P = softmax(S) by rows, then o_i = Σ_j P[i, j]·v_j. kt: scratch of d·padded(Lk) floats. */
static inline __attribute__((always_inline)) void head_forward(const float *restrict q, const float *restrict k, const float *restrict v, float *restrict o,
                                                              float *restrict p, float *restrict kt, int64_t lq, int64_t lk, int64_t d, int64_t s,
                                                              float scale) {
  head_transpose(k, kt, lk, d, s);
  rows_times_columns(q, s, lq, kt, p, lk, lk, d);
  for (int64_t i = 0; i < lq; i++) {
    float *restrict pi = p + i * lk;
    float m = -INFINITY;
    for (int64_t j = 0; j < lk; j++) {
      pi[j] *= scale;
      m = pi[j] > m ? pi[j] : m;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < lk; j++) {
      pi[j] = exp_f(pi[j] - m);
      sum += pi[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < lk; j++) pi[j] *= inv;
  }
  for (int64_t i = 0; i < lq; i++) {
    const float *restrict pi = p + i * lk;
    float acc[d];
#pragma omp simd
    for (int64_t c = 0; c < d; c++) acc[c] = 0.0f;
    for (int64_t j = 0; j < lk; j++) {
      const float *restrict vj = v + j * s;
      const float pij = pi[j];
#pragma omp simd
      for (int64_t c = 0; c < d; c++) acc[c] += pij * vj[c];
    }
    float *restrict oi = o + i * s;
#pragma omp simd
    for (int64_t c = 0; c < d; c++) oi[c] = acc[c];
  }
}

/*
 * dS = P ⊙ (dO·Vᵀ − rowsum), dq_i = scale·Σ_j dS[i, j]·k_j, dk_j = scale·Σ_i dS[i, j]·q_i, dv_j = Σ_i P[i, j]·dO_i.
 * ds: scratch of Lq·Lk floats; vt: of d·padded(Lk) floats.
 */
static inline __attribute__((always_inline)) void head_backward(const float *restrict dout, const float *restrict q, const float *restrict k,
                                                               const float *restrict v, const float *restrict p, float *restrict dq, float *restrict dk,
                                                               float *restrict dv, float *restrict ds, float *restrict vt, int64_t lq, int64_t lk,
                                                               int64_t d, int64_t s, float scale) {
  head_transpose(v, vt, lk, d, s);
  rows_times_columns(dout, s, lq, vt, ds, lk, lk, d);
  for (int64_t i = 0; i < lq; i++) {
    const float *restrict pi = p + i * lk;
    float *restrict dsi = ds + i * lk;
    float rowsum = 0.0f;
    for (int64_t j = 0; j < lk; j++) rowsum += pi[j] * dsi[j];
    for (int64_t j = 0; j < lk; j++) dsi[j] = pi[j] * (dsi[j] - rowsum);
  }
  for (int64_t i = 0; i < lq; i++) {
    const float *restrict dsi = ds + i * lk;
    float acc[d];
#pragma omp simd
    for (int64_t c = 0; c < d; c++) acc[c] = 0.0f;
    for (int64_t j = 0; j < lk; j++) {
      const float *restrict kj = k + j * s;
      const float w = dsi[j];
#pragma omp simd
      for (int64_t c = 0; c < d; c++) acc[c] += w * kj[c];
    }
    float *restrict dqi = dq + i * s;
#pragma omp simd
    for (int64_t c = 0; c < d; c++) dqi[c] = scale * acc[c];
  }
  for (int64_t j = 0; j < lk; j++) {
    float ak[d], av[d];
#pragma omp simd
    for (int64_t c = 0; c < d; c++) ak[c] = av[c] = 0.0f;
    for (int64_t i = 0; i < lq; i++) {
      const float *restrict qi = q + i * s, *restrict gi = dout + i * s;
      const float w = ds[i * lk + j], pij = p[i * lk + j];
#pragma omp simd
      for (int64_t c = 0; c < d; c++) {
        ak[c] += w * qi[c];
        av[c] += pij * gi[c];
      }
    }
    float *restrict dkj = dk + j * s, *restrict dvj = dv + j * s;
#pragma omp simd
    for (int64_t c = 0; c < d; c++) {
      dkj[c] = scale * ak[c];
      dvj[c] = av[c];
    }
  }
}

CLONES static void attention_head(const float *restrict q, const float *restrict k, const float *restrict v, float *restrict o, float *restrict p,
                                  float *restrict kt, int64_t lq, int64_t lk, int64_t d, int64_t s, float scale) {
  head_forward(q, k, v, o, p, kt, lq, lk, d, s, scale);
}

CLONES static void attention_head_grad(const float *restrict dout, const float *restrict q, const float *restrict k, const float *restrict v,
                                       const float *restrict p, float *restrict dq, float *restrict dk, float *restrict dv, float *restrict ds,
                                       float *restrict vt, int64_t lq, int64_t lk, int64_t d, int64_t s, float scale) {
  head_backward(dout, q, k, v, p, dq, dk, dv, ds, vt, lq, lk, d, s, scale);
}

/*
 * The same loops with the head width d a compile-time constant, so that a row's accumulators (d floats: one to four
 * AVX-512 registers) stay in registers. With d a run-time value the compiler kept them on the stack: every
 * multiply-add of the gradient's dK/dV and dQ loops loaded and stored its accumulator (`perf annotate` on heads of 64,
 * the width of the papers' ViT sizes Ti, S and B). [32, 65, 192] of 3 heads, 2 vCPU AMD EPYC: forward 1593–1665 → 1236–1264 µs, gradient
 * 3169–3247 → 2469–2549 µs (scripts/bench/attention-call.ts, old and new addon alternating).
 */
typedef void (*HeadForward)(const float *restrict, const float *restrict, const float *restrict, float *restrict, float *restrict,
                            float *restrict, int64_t, int64_t, int64_t, float);
typedef void (*HeadBackward)(const float *restrict, const float *restrict, const float *restrict, const float *restrict, const float *restrict,
                             float *restrict, float *restrict, float *restrict, float *restrict, float *restrict, int64_t, int64_t, int64_t,
                             float);

#define SPECIALISED_HEAD(D)                                                                                                                 \
  CLONES static void attention_head##D(const float *restrict q, const float *restrict k, const float *restrict v, float *restrict o,        \
                                       float *restrict p, float *restrict kt, int64_t lq, int64_t lk, int64_t s, float scale) {             \
    head_forward(q, k, v, o, p, kt, lq, lk, D, s, scale);                                                                                  \
  }                                                                                                                                         \
  CLONES static void attention_head_grad##D(const float *restrict dout, const float *restrict q, const float *restrict k,                  \
                                            const float *restrict v, const float *restrict p, float *restrict dq, float *restrict dk,      \
                                            float *restrict dv, float *restrict ds, float *restrict vt, int64_t lq, int64_t lk, int64_t s, \
                                            float scale) {                                                                                  \
    head_backward(dout, q, k, v, p, dq, dk, dv, ds, vt, lq, lk, D, s, scale);                                                              \
  }

SPECIALISED_HEAD(16)
SPECIALISED_HEAD(32)
SPECIALISED_HEAD(64)

/* Head widths with their own loops (16: the CPU studies' ViTs; 32; 64: ViT-Ti, -S, -B); others run the generic ones. */
static const struct {
  int64_t d;
  HeadForward forward;
  HeadBackward backward;
} SPECIALISED[] = {{16, attention_head16, attention_head_grad16}, {32, attention_head32, attention_head_grad32}, {64, attention_head64, attention_head_grad64}};

static int specialised_index(int64_t d) {
  for (size_t i = 0; i < sizeof(SPECIALISED) / sizeof(SPECIALISED[0]); i++)
    if (SPECIALISED[i].d == d) return (int)i;
  return -1;
}

/* One head's forward for the other kernels of the addon (transformer_block.c): the specialised loops where d has them. */
void promptkd_attention_head(const float *q, const float *k, const float *v, float *o, float *p, float *kt, int64_t lq, int64_t lk, int64_t d, int64_t s,
                             float scale) {
  const int sp = specialised_index(d);
  if (sp >= 0) SPECIALISED[sp].forward(q, k, v, o, p, kt, lq, lk, s, scale);
  else attention_head(q, k, v, o, p, kt, lq, lk, d, s, scale);
}

/* One head's gradient for transformer_block.c (as attention_grad's work item). */
void promptkd_attention_head_grad(const float *dout, const float *q, const float *k, const float *v, const float *p, float *dq, float *dk, float *dv, float *ds,
                                  float *vt, int64_t lq, int64_t lk, int64_t d, int64_t s, float scale) {
  const int sp = specialised_index(d);
  if (sp >= 0) SPECIALISED[sp].backward(dout, q, k, v, p, dq, dk, dv, ds, vt, lq, lk, s, scale);
  else attention_head_grad(dout, q, k, v, p, dq, dk, dv, ds, vt, lq, lk, d, s, scale);
}

/* Floats of the Kᵀ scratch promptkd_attention_head needs for a head of width d and lk keys. */
int64_t promptkd_attention_head_scratch(int64_t lk, int64_t d) { return d * padded(lk); }

/* A thread's scratch of n floats inside a parallel region; NULL (and *failed set) when out of memory. */
float *promptkd_thread_scratch(size_t n, int *failed) {
  float *x = (float *)malloc(sizeof(float) * n);
  if (!x) {
#pragma omp atomic write
    *failed = 1;
  }
  return x;
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
  /* Kᵀ of one head per thread (d·Lk floats, padded), allocated once per thread, not per head */
  const int sp = specialised_index(d);
  int failed = 0;
#pragma omp parallel if (b * lq * lk * d >= ATTN_PAR_MIN)
  {
    float *kt = promptkd_thread_scratch((size_t)(d * padded(lk)), &failed);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < b; t++) {
      if (!kt) continue;
      const int64_t i = t / h, c = (t - i * h) * d;
      const float *qh = q + i * lq * dm + c, *kh = k + i * lk * dm + c, *vh = vv + i * lk * dm + c;
      if (sp >= 0) SPECIALISED[sp].forward(qh, kh, vh, o + i * lq * dm + c, p + t * lq * lk, kt, lq, lk, dm, (float)scale);
      else attention_head(qh, kh, vh, o + i * lq * dm + c, p + t * lq * lk, kt, lq, lk, d, dm, (float)scale);
    }
    free(kt);
  }
  if (failed) napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the attention");
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
  /* dS and Vᵀ of one head per thread (Lq·Lk + d·Lk floats, Vᵀ padded), allocated once per thread, not per head */
  const int sp = specialised_index(d);
  int failed = 0;
#pragma omp parallel if (b * lq * lk * d >= ATTN_PAR_MIN)
  {
    float *ds = promptkd_thread_scratch((size_t)(lq * lk + d * padded(lk)), &failed);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < b; t++) {
      if (!ds) continue;
      const int64_t i = t / h, c = (t - i * h) * d, qo = i * lq * dm + c, ko = i * lk * dm + c;
      const float *g = heap + v[5] + qo, *qh = heap + v[6] + qo, *kh = heap + v[7] + ko, *vh = heap + v[8] + ko, *ph = heap + v[9] + t * lq * lk;
      float *dqh = heap + v[10] + qo, *dkh = heap + v[11] + ko, *dvh = heap + v[12] + ko;
      float *vt = ds + lq * lk;
      if (sp >= 0) SPECIALISED[sp].backward(g, qh, kh, vh, ph, dqh, dkh, dvh, ds, vt, lq, lk, dm, (float)scale);
      else attention_head_grad(g, qh, kh, vh, ph, dqh, dkh, dvh, ds, vt, lq, lk, d, dm, (float)scale);
    }
    free(ds);
  }
  if (failed) napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the attention gradient");
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
