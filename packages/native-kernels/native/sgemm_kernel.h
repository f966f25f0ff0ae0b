/*
 * One instruction-set variant of the built-in SGEMM (sgemm.c includes this file once per variant). Before
 * including, define SGEMM_SUFFIX (name suffix), SGEMM_TARGET (a GCC target attribute, or nothing), SGEMM_VW
 * (floats per vector), SGEMM_MR (rows of the micro-tile) and SGEMM_NV (vectors per row: NR = NV·VW columns);
 * this file undefines SGEMM_SUFFIX, SGEMM_MR and SGEMM_NV at its end.
 *
 * Packed layouts: an A block (mc × kc) is stored as ⌈mc/MR⌉ micro-panels of [kc][MR]; a B block (kc × nc) as
 * ⌈nc/NR⌉ micro-panels of [kc][NR]; both zero-padded at the edges, so the micro-kernel never branches.
 */
#define SG_CAT2(a, b) a##_##b
#define SG_CAT(a, b) SG_CAT2(a, b)
#define SG(name) SG_CAT(name, SGEMM_SUFFIX)
#define SG_NR (SGEMM_NV * SGEMM_VW)

typedef float SG(vf) __attribute__((vector_size(SGEMM_VW * 4), aligned(SGEMM_VW * 4)));
typedef float SG(vfu) __attribute__((vector_size(SGEMM_VW * 4), aligned(4)));

/* A(i, k) of rows [i0, i0+mc) and depths [p0, p0+kc) into micro-panels of MR rows. */
SGEMM_TARGET static void SG(pack_a)(const SgemmArgs *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float *restrict dst) {
  for (int64_t ip = 0; ip < mc; ip += SGEMM_MR) {
    const int64_t rows = mc - ip < SGEMM_MR ? mc - ip : SGEMM_MR;
    float *restrict d = dst + ip * kc;
    if (!g->ta) {
      /* A row-major: rows are contiguous in k. */
      for (int64_t r = 0; r < rows; r++) {
        const float *restrict s = g->a + (i0 + ip + r) * g->lda + p0;
        for (int64_t p = 0; p < kc; p++) d[p * SGEMM_MR + r] = s[p];
      }
    } else {
      /* Aᵀ stored: for each k, the MR rows are contiguous. */
      for (int64_t p = 0; p < kc; p++) {
        const float *restrict s = g->a + (p0 + p) * g->lda + i0 + ip;
        for (int64_t r = 0; r < rows; r++) d[p * SGEMM_MR + r] = s[r];
      }
    }
    for (int64_t r = rows; r < SGEMM_MR; r++)
      for (int64_t p = 0; p < kc; p++) d[p * SGEMM_MR + r] = 0.0f;
  }
}

/* B(k, j) of depths [p0, p0+kc) and columns [j0, j0+nc) into micro-panels of NR columns; panels [q0, q1) only. */
SGEMM_TARGET static void SG(pack_b)(const SgemmArgs *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int64_t q, float *restrict dst) {
  const int64_t jp = q * SG_NR, cols = nc - jp < SG_NR ? nc - jp : SG_NR;
  float *restrict d = dst + jp * kc;
  if (!g->tb) {
    for (int64_t p = 0; p < kc; p++) {
      const float *restrict s = g->b + (p0 + p) * g->ldb + j0 + jp;
      int64_t c = 0;
      for (; c < cols; c++) d[p * SG_NR + c] = s[c];
      for (; c < SG_NR; c++) d[p * SG_NR + c] = 0.0f;
    }
  } else {
    for (int64_t c = 0; c < cols; c++) {
      const float *restrict s = g->b + (j0 + jp + c) * g->ldb + p0;
      for (int64_t p = 0; p < kc; p++) d[p * SG_NR + c] = s[p];
    }
    for (int64_t c = cols; c < SG_NR; c++)
      for (int64_t p = 0; p < kc; p++) d[p * SG_NR + c] = 0.0f;
  }
}

/*
 * One MR × NR tile: acc = Σ_p a[p][:] ⊗ b[p][:] in p order, then C = alpha·acc + beta·C on the first depth block
 * (beta = 0 never reads C) and C += alpha·acc on later ones. rows/cols clip the tile at the matrix edge.
 */
SGEMM_TARGET static void SG(micro)(int64_t kc, const float *restrict a, const float *restrict b, float *c, int64_t ldc, int64_t rows,
                                   int64_t cols, float alpha, float beta, int first) {
  SG(vf) acc[SGEMM_MR][SGEMM_NV];
#pragma GCC unroll 32
  for (int r = 0; r < SGEMM_MR; r++)
#pragma GCC unroll 8
    for (int v = 0; v < SGEMM_NV; v++) acc[r][v] = (SG(vf)){0};
  for (int64_t p = 0; p < kc; p++) {
    SG(vf) bv[SGEMM_NV];
#pragma GCC unroll 8
    for (int v = 0; v < SGEMM_NV; v++) bv[v] = *(const SG(vf) *)(b + p * SG_NR + v * SGEMM_VW);
#pragma GCC unroll 32
    for (int r = 0; r < SGEMM_MR; r++) {
      const float av = a[p * SGEMM_MR + r];
#pragma GCC unroll 8
      for (int v = 0; v < SGEMM_NV; v++) acc[r][v] += av * bv[v];
    }
  }
  if (rows == SGEMM_MR && cols == SG_NR) {
#pragma GCC unroll 32
    for (int r = 0; r < SGEMM_MR; r++) {
#pragma GCC unroll 8
      for (int v = 0; v < SGEMM_NV; v++) {
        SG(vfu) *dst = (SG(vfu) *)(c + r * ldc + v * SGEMM_VW);
        if (!first) *dst += alpha * acc[r][v];
        else if (beta == 0.0f) *dst = alpha * acc[r][v];
        else *dst = beta * *dst + alpha * acc[r][v];
      }
    }
    return;
  }
  float tile[SGEMM_MR][SG_NR];
  memcpy(tile, acc, sizeof tile);
  for (int64_t r = 0; r < rows; r++) {
    float *dst = c + r * ldc;
    for (int64_t j = 0; j < cols; j++) {
      if (!first) dst[j] += alpha * tile[r][j];
      else if (beta == 0.0f) dst[j] = alpha * tile[r][j];
      else dst[j] = beta * dst[j] + alpha * tile[r][j];
    }
  }
}

/* C[i0 : i0+mc, j0+n0 : j0+n1] from a packed A block and the packed B block (columns relative to j0). */
SGEMM_TARGET static void SG(macro)(const SgemmArgs *g, const float *ap, const float *bp, int64_t i0, int64_t mc, int64_t j0, int64_t n0,
                                   int64_t n1, int64_t kc, int first) {
  for (int64_t jp = n0; jp < n1; jp += SG_NR) {
    const int64_t cols = n1 - jp < SG_NR ? n1 - jp : SG_NR;
    for (int64_t ip = 0; ip < mc; ip += SGEMM_MR) {
      const int64_t rows = mc - ip < SGEMM_MR ? mc - ip : SGEMM_MR;
      SG(micro)(kc, ap + ip * kc, bp + jp * kc, g->c + (i0 + ip) * g->ldc + j0 + jp, g->ldc, rows, cols, g->alpha, g->beta, first);
    }
  }
}

static const SgemmIsa SG(isa) = {SGEMM_MR, SG_NR, SG(pack_a), SG(pack_b), SG(macro)};

#undef SG_NR
#undef SGEMM_SUFFIX
#undef SGEMM_MR
#undef SGEMM_NV
#undef SG
#undef SG_CAT
#undef SG_CAT2
