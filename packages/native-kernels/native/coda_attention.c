/*
 * CODA-Prompt's prompt from a query (Smith et al. 2023, eq. 4–5) in one call of promptkd's native addon, forward and
 * backward, instead of the ~15 kernels of its composition forward and ~30 backward:
 *
 *   k̂_j = k_j / max(‖k_j‖, ε),  α_{n,j} = ⟨q_n ⊙ a_j, k̂_j⟩ / max(‖q_n ⊙ a_j‖, ε),  out_n = Σ_j α_{n,j} p_j      (ε = 1e-12)
 *
 * q [N, Dq] queries, k and a [M, Dq] the components' keys and attention vectors, p [M, E] their prompts (flattened).
 * The products run on oneDNN's or the built-in SGEMM (small: M is a few dozen components), the rest in loops whose sums
 * run in an order fixed by the shapes. Same conventions as the other files: in place on the wasm heap, offsets in
 * floats, float32 arithmetic.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"
#include "napi_args.h"
#include "shared_loops.h"

#define CODA_EPS 1e-12f

/* The forward's intermediate values: 1/max(‖k_j‖, ε) [M], w = a ⊙ k̂ and a² [M, Dq], q² [N, Dq], √S and α [N, M]. */
typedef struct {
  float *inv_kn, *w, *a2, *q2, *root, *alpha;
} CodaParts;

/* k̂, w, a², q², then num = q·wᵀ (into alpha) and S = q²·a²ᵀ (into root), then √S and α = num / max(√S, ε). */
CLONES static void coda_parts(const float *restrict q, const float *restrict k, const float *restrict a, int64_t n, int64_t m, int64_t dq, CodaParts *t) {
  for (int64_t j = 0; j < m; j++) {
    const float *kj = k + j * dq, *aj = a + j * dq;
    float ss = 0.0f;
    for (int64_t c = 0; c < dq; c++) ss += kj[c] * kj[c];
    const float norm = sqrtf(ss);
    t->inv_kn[j] = 1.0f / (norm > CODA_EPS ? norm : CODA_EPS);
#pragma omp simd
    for (int64_t c = 0; c < dq; c++) {
      t->w[j * dq + c] = aj[c] * (kj[c] * t->inv_kn[j]);
      t->a2[j * dq + c] = aj[c] * aj[c];
    }
  }
#pragma omp simd
  for (int64_t i = 0; i < n * dq; i++) t->q2[i] = q[i] * q[i];
  promptkd_thread_sgemm(0, 1, n, m, dq, 1.0f, q, dq, t->w, dq, 0.0f, t->alpha, m);
  promptkd_thread_sgemm(0, 1, n, m, dq, 1.0f, t->q2, dq, t->a2, dq, 0.0f, t->root, m);
  for (int64_t i = 0; i < n * m; i++) {
    const float root = sqrtf(t->root[i]);
    t->root[i] = root;
    t->alpha[i] = t->alpha[i] / (root > CODA_EPS ? root : CODA_EPS);
  }
}

/*
 * dq, dk, da, dp from dout. With dα = dout·pᵀ: dp = αᵀ·dout; dnum = dα / max(√S, ε); dS = −dα·α / max(√S, ε) / (2√S)
 * where √S ≥ ε (else 0); G = dnumᵀ·q, H = dSᵀ·q²; da = G ⊙ k̂ + 2a ⊙ H; dk̂ = G ⊙ a; dk = (dk̂ − k̂⟨k̂, dk̂⟩)/‖k‖ where
 * ‖k‖ ≥ ε (else dk̂/ε); dq = dnum·w + 2q ⊙ (dS·a²). gh: scratch of 2·M·Dq floats (G, H), then N·Dq (dS·a²).
 */
CLONES static void coda_grad(const float *restrict dout, const float *restrict q, const float *restrict k, const float *restrict a, const float *restrict p,
                             const CodaParts *t, float *restrict dnum, float *restrict ds, float *restrict gh, float *restrict dq, float *restrict dk,
                             float *restrict da, float *restrict dp, int64_t n, int64_t m, int64_t dqn, int64_t e) {
  promptkd_thread_sgemm(0, 1, n, m, e, 1.0f, dout, e, p, e, 0.0f, dnum, m);
  promptkd_thread_sgemm(1, 0, m, e, n, 1.0f, t->alpha, m, dout, e, 0.0f, dp, e);
  for (int64_t i = 0; i < n * m; i++) {
    const float dal = dnum[i], root = t->root[i], den = root > CODA_EPS ? root : CODA_EPS;
    dnum[i] = dal / den;
    ds[i] = root >= CODA_EPS ? -dal * t->alpha[i] / den / (2.0f * root) : 0.0f;
  }
  float *g = gh, *h = gh + m * dqn, *sa = gh + 2 * m * dqn;
  promptkd_thread_sgemm(1, 0, m, dqn, n, 1.0f, dnum, m, q, dqn, 0.0f, g, dqn);
  promptkd_thread_sgemm(1, 0, m, dqn, n, 1.0f, ds, m, t->q2, dqn, 0.0f, h, dqn);
  for (int64_t j = 0; j < m; j++) {
    const float *kj = k + j * dqn, *aj = a + j * dqn, *gj = g + j * dqn, *hj = h + j * dqn;
    float *dkj = dk + j * dqn, *daj = da + j * dqn;
    float dot = 0.0f, ss = 0.0f;
    for (int64_t c = 0; c < dqn; c++) {
      const float khat = kj[c] * t->inv_kn[j];
      daj[c] = gj[c] * khat + 2.0f * aj[c] * hj[c];
      dkj[c] = gj[c] * aj[c]; /* dk̂ for now */
      dot += khat * dkj[c];
      ss += kj[c] * kj[c];
    }
    const int through_norm = sqrtf(ss) >= CODA_EPS;
    for (int64_t c = 0; c < dqn; c++) dkj[c] = through_norm ? (dkj[c] - kj[c] * t->inv_kn[j] * dot) * t->inv_kn[j] : dkj[c] * t->inv_kn[j];
  }
  promptkd_thread_sgemm(0, 0, n, dqn, m, 1.0f, dnum, m, t->w, dqn, 0.0f, dq, dqn);
  promptkd_thread_sgemm(0, 0, n, dqn, m, 1.0f, ds, m, t->a2, dqn, 0.0f, sa, dqn);
#pragma omp simd
  for (int64_t i = 0; i < n * dqn; i++) dq[i] += 2.0f * q[i] * sa[i];
}

/* Scratch of the intermediate values (and the backward's dnum, dS, G, H, dS·a²), NULL when out of memory. */
static float *coda_scratch(int64_t n, int64_t m, int64_t dq, int backward, CodaParts *t) {
  const int64_t parts = m + 2 * m * dq + n * dq + 2 * n * m, grad = backward ? 2 * n * m + 2 * m * dq + n * dq : 0;
  float *base = (float *)malloc(sizeof(float) * (size_t)(parts + grad + 1));
  if (!base) return NULL;
  t->inv_kn = base;
  t->w = t->inv_kn + m;
  t->a2 = t->w + m * dq;
  t->q2 = t->a2 + m * dq;
  t->root = t->q2 + n * dq;
  t->alpha = t->root + n * m;
  return base;
}

/* v = [N, M, Dq, E]: N ≥ 0, the rest ≥ 1. */
static int coda_sizes_ok(napi_env env, const int64_t *v) {
  if (v[0] < 0 || v[1] < 1 || v[2] < 1 || v[3] < 1) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: codaAttention needs N ≥ 0 and M, Dq, E ≥ 1");
    return 0;
  }
  return 1;
}

/* codaAttention(heap, N, M, Dq, E, qOff, kOff, aOff, pOff, outOff) */
static napi_value coda_attention(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len;
  int64_t v[9];
  if (!parse_heap_args(env, info, 10, a, &heap, &len, v, 9) || !coda_sizes_ok(env, v)) return NULL;
  const int64_t n = v[0], m = v[1], dq = v[2], e = v[3];
  if (!heap_range_ok(env, len, v[4], n * dq) || !heap_range_ok(env, len, v[5], m * dq) || !heap_range_ok(env, len, v[6], m * dq) ||
      !heap_range_ok(env, len, v[7], m * e) || !heap_range_ok(env, len, v[8], n * e))
    return NULL;
  CodaParts t;
  float *base = coda_scratch(n, m, dq, 0, &t);
  if (!base) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for codaAttention");
    return NULL;
  }
  coda_parts(heap + v[4], heap + v[5], heap + v[6], n, m, dq, &t);
  promptkd_thread_sgemm(0, 0, n, e, m, 1.0f, t.alpha, m, heap + v[7], e, 0.0f, heap + v[8], e);
  free(base);
  return NULL;
}

/* codaAttentionGrad(heap, N, M, Dq, E, dOutOff, qOff, kOff, aOff, pOff, dqOff, dkOff, daOff, dpOff) */
static napi_value coda_attention_grad(napi_env env, napi_callback_info info) {
  napi_value a[14];
  float *heap;
  size_t len;
  int64_t v[13];
  if (!parse_heap_args(env, info, 14, a, &heap, &len, v, 13) || !coda_sizes_ok(env, v)) return NULL;
  const int64_t n = v[0], m = v[1], dq = v[2], e = v[3];
  const int64_t sizes[9] = {n * e, n * dq, m * dq, m * dq, m * e, n * dq, m * dq, m * dq, m * e};
  for (int i = 0; i < 9; i++)
    if (!heap_range_ok(env, len, v[4 + i], sizes[i])) return NULL;
  CodaParts t;
  float *base = coda_scratch(n, m, dq, 1, &t);
  if (!base) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for codaAttentionGrad");
    return NULL;
  }
  const float *q = heap + v[5], *k = heap + v[6], *aa = heap + v[7], *p = heap + v[8];
  coda_parts(q, k, aa, n, m, dq, &t);
  float *dnum = t.alpha + n * m, *ds = dnum + n * m;
  coda_grad(heap + v[4], q, k, aa, p, &t, dnum, ds, ds + n * m, heap + v[9], heap + v[10], heap + v[11], heap + v[12], n, m, dq, e);
  free(base);
  return NULL;
}

napi_value promptkd_register_coda_attention(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"codaAttention", NULL, coda_attention, NULL, NULL, NULL, napi_default, NULL},
      {"codaAttentionGrad", NULL, coda_attention_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
