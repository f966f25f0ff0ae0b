/* Batched matrix products of promptkd's native addon on oneDNN (onednn_matmul.cc); declines without oneDNN. */
#ifndef PROMPTKD_ONEDNN_MATMUL_H
#define PROMPTKD_ONEDNN_MATMUL_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * C[i] = op(A[i]) · op(B[i]) for i < batch, row-major and dense: A[i] = a + i·strideA with strideA = M·K (or 0:
 * one A for every entry), likewise B (K·N or 0); C[i] = c + i·M·N. Returns 1 when done, 0 when declined (no
 * oneDNN), -1 on a oneDNN error with `*error` set.
 */
int promptkd_onednn_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, int64_t stride_a, int64_t stride_b,
                           const float *a, const float *b, float *c, const char **error);

/*
 * Row-major C = alpha·op(A)·op(B) + beta·C with leading dimensions, on oneDNN's SGEMM (its OpenMP threads, one thread
 * for small products and inside a parallel region). Returns 1 when done, 0 when declined (no oneDNN or an error).
 */
int promptkd_onednn_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                          int64_t ldb, float beta, float *c, int64_t ldc);

#ifdef __cplusplus
}
#endif
#endif
