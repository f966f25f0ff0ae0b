/*
 * The addon's built-in single-precision GEMM, so that it builds with nothing but a C compiler (no BLAS library):
 * row-major C = alpha·op(A)·op(B) + beta·C, the cblas_sgemm contract. Blocked and packed as in BLIS/GotoBLAS
 * (depth blocks of KC, row blocks of MC, micro-tiles of MR × NR accumulated in vector registers), compiled for
 * AVX-512, AVX2/FMA and baseline SIMD (GCC vector extensions; the variant is picked once from the CPU).
 *
 * Threads split rows and columns of C, never the depth: every entry is summed in the same order (depth blocks in
 * order, then k within a block) for any thread count, so results do not depend on it.
 */
#include "sgemm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
  int ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b;
  float *c;
} SgemmArgs;

typedef struct {
  int mr, nr;
  void (*pack_a)(const SgemmArgs *, int64_t, int64_t, int64_t, int64_t, float *);
  void (*pack_b)(const SgemmArgs *, int64_t, int64_t, int64_t, int64_t, int64_t, float *);
  void (*macro)(const SgemmArgs *, const float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int);
} SgemmIsa;

/* Depth block; row block; column block (the packed B block, KC·NC floats, is shared by all threads). */
#define KC 256
#define MC 144
#define NC 3072

/* Each variant: wide micro-tiles (NV = 2 vectors) and, for C at most one vector wide, narrow ones (NV = 1). */
#define SGEMM_TARGET
#define SGEMM_VW 4
#define SGEMM_SUFFIX base
#define SGEMM_MR 6
#define SGEMM_NV 2
#include "sgemm_kernel.h"
#define SGEMM_SUFFIX base_narrow
#define SGEMM_MR 12
#define SGEMM_NV 1
#include "sgemm_kernel.h"
#undef SGEMM_TARGET
#undef SGEMM_VW

#if defined(__GNUC__) && defined(__x86_64__)
#define SGEMM_X86 1
#define SGEMM_TARGET __attribute__((target("avx2,fma")))
#define SGEMM_VW 8
#define SGEMM_SUFFIX avx2
#define SGEMM_MR 6
#define SGEMM_NV 2
#include "sgemm_kernel.h"
#define SGEMM_SUFFIX avx2_narrow
#define SGEMM_MR 12
#define SGEMM_NV 1
#include "sgemm_kernel.h"
#undef SGEMM_TARGET
#undef SGEMM_VW

#define SGEMM_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define SGEMM_VW 16
#define SGEMM_SUFFIX avx512
#define SGEMM_MR 12
#define SGEMM_NV 2
#include "sgemm_kernel.h"
#define SGEMM_SUFFIX avx512_narrow
#define SGEMM_MR 24
#define SGEMM_NV 1
#include "sgemm_kernel.h"
#undef SGEMM_TARGET
#undef SGEMM_VW
#endif

/* The kernels of the CPU's best instruction set: [0] wide micro-tiles, [1] half as wide, for narrow C. */
static const SgemmIsa *const *isa_now(void) {
  static const SgemmIsa *const base[2] = {&isa_base, &isa_base_narrow};
#ifdef SGEMM_X86
  static const SgemmIsa *const avx2[2] = {&isa_avx2, &isa_avx2_narrow};
  static const SgemmIsa *const avx512[2] = {&isa_avx512, &isa_avx512_narrow};
  static const SgemmIsa *const *chosen;
  if (!chosen) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
      chosen = avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      chosen = avx2;
    else
      chosen = base;
  }
  return chosen;
#else
  return base;
#endif
}

const char *promptkd_sgemm_isa(void) {
  const SgemmIsa *i = isa_now()[0];
#ifdef SGEMM_X86
  if (i == &isa_avx512) return "AVX-512";
  if (i == &isa_avx2) return "AVX2";
#endif
  (void)i;
  return "SIMD-128";
}

static int gemm_threads = 0; /* 0: OpenMP's default */

void promptkd_sgemm_set_threads(int n) { gemm_threads = n < 1 ? 1 : n; }

int promptkd_sgemm_get_threads(void) {
#ifdef _OPENMP
  return gemm_threads > 0 ? gemm_threads : omp_get_max_threads();
#else
  return 1;
#endif
}

/* Rounds n up to a multiple of m. */
static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* Packing buffers, one pair per thread, grown on demand and kept (at most KC·NC and KC·MC floats). */
static _Thread_local float *tls_buf[2];
static _Thread_local size_t tls_len[2];

static float *scratch(int which, int64_t floats) {
  const size_t want = (size_t)round_up(floats, 16);
  if (tls_len[which] < want) {
    free(tls_buf[which]);
    tls_buf[which] = (float *)aligned_alloc(64, sizeof(float) * want);
    tls_len[which] = tls_buf[which] ? want : 0;
    if (!tls_buf[which]) {
      fprintf(stderr, "promptkd native: out of memory for a GEMM packing buffer\n");
      abort();
    }
  }
  return tls_buf[which];
}

void promptkd_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const SgemmArgs g = {trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
  if (k <= 0 || alpha == 0.0f) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  const SgemmIsa *const *isas = isa_now();
  const SgemmIsa *isa = n <= isas[1]->nr ? isas[1] : isas[0];
  const int64_t mr = isa->mr, nr = isa->nr;
  int threads = promptkd_sgemm_get_threads();
#ifdef _OPENMP
  if (omp_in_parallel()) threads = 1;
#endif
  /* Below ~1 M multiply-adds a fork/join costs more than it saves. */
  if ((double)m * (double)n * (double)k < 1e6) threads = 1;
  /* Work items: row blocks × column slices of whole micro-panels, enough for every thread. */
  int64_t mc = MC / mr * mr;
  if (threads > 1 && (m + mc - 1) / mc < threads) mc = round_up((m + threads - 1) / threads, mr);
  const int64_t mblocks = (m + mc - 1) / mc;
  const int64_t kcmax = k < KC ? k : KC;
  float *bp = scratch(0, round_up(n < NC ? n : NC, nr) * kcmax);

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float *ap = scratch(1, round_up(mc, mr) * kcmax);
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
      const int64_t nc = n - j0 < NC ? n - j0 : NC;
      const int64_t npanels = (nc + nr - 1) / nr;
      int64_t nslices = threads > 1 && mblocks < threads ? (threads + mblocks - 1) / mblocks : 1;
      if (nslices > npanels) nslices = npanels;
      const int64_t per_slice = (npanels + nslices - 1) / nslices * nr;
      const int64_t items = mblocks * nslices;
      for (int64_t p0 = 0; p0 < k; p0 += KC) {
        const int64_t kc = k - p0 < KC ? k - p0 : KC;
        /* Both loops end with a barrier: B is packed before use, and used before the next block repacks it. */
#pragma omp for schedule(static)
        for (int64_t q = 0; q < npanels; q++) isa->pack_b(&g, p0, kc, j0, nc, q, bp);
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
          const int64_t ib = it / nslices, s = it % nslices;
          const int64_t i0 = ib * mc, rows = m - i0 < mc ? m - i0 : mc;
          const int64_t n0 = s * per_slice, n1 = n0 + per_slice < nc ? n0 + per_slice : nc;
          if (n0 >= n1) continue;
          isa->pack_a(&g, i0, rows, p0, kc, ap);
          isa->macro(&g, ap, bp, i0, rows, j0, n0, n1, kc, p0 == 0);
        }
      }
    }
  }
}
