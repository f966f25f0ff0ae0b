/*
 * Functions one source file of promptkd's native addon lends another (the fused kernels are built from the same loops
 * as the single ones): each runs on the calling thread, inside or outside a parallel region.
 */
#ifndef PROMPTKD_SHARED_LOOPS_H
#define PROMPTKD_SHARED_LOOPS_H
#include <stddef.h>
#include <stdint.h>

/* kernels.c: row-major C = alpha·op(A)·op(B) + beta·C on oneDNN's SGEMM (engine oneDNN) or the built-in one. */
void promptkd_thread_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                           float beta, float *c, int64_t ldc);
/* fused.c: layer norm over rows (forward; dx with the partial dγ, dβ in pg, pb of C floats each) and exact GELU. */
void promptkd_layer_norm_rows(const float *x, const float *g, const float *b, float *y, int64_t rows, int64_t C, float eps);
void promptkd_layer_norm_grad_rows(const float *dy, const float *x, const float *gam, float *dx, float *pg, float *pb, int64_t rows, int64_t C, float eps);
void promptkd_gelu_rows(const float *x, float *y, int64_t n);
void promptkd_gelu_grad_rows(const float *dy, const float *x, float *dx, int64_t n);
/* attention.c: one head's forward and gradient (rows `s` floats apart), and the floats of the forward's Kᵀ scratch. */
void promptkd_attention_head(const float *q, const float *k, const float *v, float *o, float *p, float *kt, int64_t lq, int64_t lk, int64_t d, int64_t s,
                             float scale);
void promptkd_attention_head_grad(const float *dout, const float *q, const float *k, const float *v, const float *p, float *dq, float *dk, float *dv, float *ds,
                                  float *vt, int64_t lq, int64_t lk, int64_t d, int64_t s, float scale);
int64_t promptkd_attention_head_scratch(int64_t lk, int64_t d);
/* attention.c: a thread's scratch of n floats inside a parallel region; NULL (and *failed set) when out of memory. */
float *promptkd_thread_scratch(size_t n, int *failed);

#endif
