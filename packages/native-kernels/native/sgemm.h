/* The built-in SGEMM of promptkd's native addon (sgemm.c): the cblas_sgemm contract, row-major, no BLAS needed. */
#ifndef PROMPTKD_SGEMM_H
#define PROMPTKD_SGEMM_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* C = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m × k, op(B) k × n; beta = 0 never reads C. */
void promptkd_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float beta, float *c, int64_t ldc);
/* Threads of one call made outside a parallel region (calls inside one run on their thread). */
void promptkd_sgemm_set_threads(int n);
int promptkd_sgemm_get_threads(void);
/* The instruction set the kernels run with: "AVX-512", "AVX2" or "SIMD-128". */
const char *promptkd_sgemm_isa(void);

#ifdef __cplusplus
}
#endif
#endif
